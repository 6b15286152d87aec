"""The JSON log line: fixed fields, `extra=` fields kept, anything encodable."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from entrypoints.logs import JsonFormatter, current_request_id


def formatted(record: logging.LogRecord) -> dict[str, object]:
    line: dict[str, object] = json.loads(JsonFormatter().format(record))
    return line


def record(message: str, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("astra.test")
    return logger.makeRecord(
        "astra.test", logging.INFO, __file__, 1, message, (), None, extra=extra
    )


def test_extra_fields_are_kept_next_to_the_fixed_ones() -> None:
    token = current_request_id.set("req-1")
    try:
        line = formatted(record("turn settled", tenant_id="t-1", credits=7, final=True))
    finally:
        current_request_id.reset(token)
    assert line["message"] == "turn settled"
    assert line["level"] == "info"
    assert line["request_id"] == "req-1"
    assert (line["tenant_id"], line["credits"], line["final"]) == ("t-1", 7, True)
    for internal in ("args", "msg", "levelno", "pathname", "lineno", "exc_info"):
        assert internal not in line


def test_values_json_cannot_hold_are_logged_as_text() -> None:
    moment = datetime(2026, 12, 3, tzinfo=UTC)
    line = formatted(record("x", path=Path("/srv/a"), at=moment, owner=object))
    assert line["path"] == "/srv/a"
    assert str(line["at"]).startswith("2026-12-03")
    assert "object" in str(line["owner"])
