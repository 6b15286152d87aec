"""Structured JSON logs carrying `request_id` and `trace_id`."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

import msgspec
from opentelemetry import trace

current_request_id: ContextVar[str] = ContextVar("astra_request_id", default="")

# What every LogRecord carries; anything else on a record came from `extra=` and is kept.
# (uvicorn adds `color_message`, the message again with terminal colours.)
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}


def _plain(value: object) -> object:
    """What msgspec cannot encode is logged as its `str`."""
    return str(value)


_encoder = msgspec.json.Encoder(enc_hook=_plain)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id.get()
        if request_id:
            entry["request_id"] = request_id
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            entry["trace_id"] = f"{context.trace_id:032x}"
            entry["span_id"] = f"{context.span_id:016x}"
        fields = vars(record)
        for name in fields.keys() - _RECORD_FIELDS:
            entry.setdefault(name, fields[name])
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _encoder.encode(entry).decode()


def configure_logging(level: str = "INFO") -> None:
    # Every request logs a line (the access log): skip what each record would otherwise
    # look up and this formatter never writes — the calling frame (a stack walk), the
    # thread and process names.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request at INFO: one line per LLM call is noise (the trace has it) and
    # costs measurable CPU on the chat path; its warnings still come through.
    # alembic announces each of its plugins at INFO on every start.
    for noisy in ("httpx", "httpcore", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
