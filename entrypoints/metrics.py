"""Prometheus metrics, served at `/metrics`.

Labels are bounded: route templates (never paths), methods, statuses, contract codes, reply
statuses — never tenant, agent or user ids. With several worker processes
(`astra serve --workers N`), `PROMETHEUS_MULTIPROC_DIR` is set before any of them starts
(`entrypoints.cli`), each process writes its values there, and a scrape of any worker sums
them all (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

from typing import Any

from litestar.plugins.prometheus import PrometheusController
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.chat.models import MessageStatus

# Request durations span cached reads (~1 ms) to long streamed turns (minutes).
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_FIRST_EVENT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REQUEST_DURATION = Histogram(
    "astra_http_request_duration_seconds",
    "Time from a request's arrival to its response's last byte.",
    ("method", "route", "status"),
    buckets=_REQUEST_BUCKETS,
)
ERROR_ANSWERS = Counter(
    "astra_error_answers",
    "Answers with a contract error, by code (8: a limit refused the request).",
    ("code",),
)
CHAT_FIRST_EVENT = Histogram(
    "astra_chat_time_to_first_event_seconds",
    "Time from a streaming chat request's arrival to its first message event.",
    buckets=_FIRST_EVENT_BUCKETS,
)
STREAMS_ABORTED = Counter(
    "astra_chat_streams_aborted",
    "Streaming chat turns whose client left before the turn ended.",
)
CHAT_TURNS = Counter(
    "astra_chat_turns",
    "Chat turns accounted, by reply status.",
    ("status",),
)
CREDITS_DEBITED = Counter(
    "astra_credits_debited",
    "Credits debited by chat turns.",
)
LLM_ERRORS = Counter(
    "astra_llm_errors",
    "Chat turns whose model call failed, by contract code (14: the backend is unavailable).",
    ("code",),
)
DATABASE_CONNECTIONS_IN_USE = Gauge(
    "astra_database_connections_in_use",
    "Database connections checked out of the pool.",
    multiprocess_mode="livesum",
)


class MetricsController(PrometheusController):
    """`GET /metrics` in the Prometheus text format (all workers' values, see above)."""

    path = "/metrics"
    include_in_schema = False


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUEST_DURATION.labels(method, route, str(status)).observe(seconds)


def observe_error(code: int) -> None:
    ERROR_ANSWERS.labels(str(code)).inc()


class PrometheusChatMetrics:
    """`application.chat.ports.ChatMetrics` as Prometheus counters."""

    def turn_ended(self, status: MessageStatus, credits_debited: int, error_code: int) -> None:
        CHAT_TURNS.labels(status.value).inc()
        if credits_debited:
            CREDITS_DEBITED.inc(credits_debited)
        if error_code:
            LLM_ERRORS.labels(str(error_code)).inc()


def watch_pool(engine: AsyncEngine) -> None:
    """Count the engine's checked-out connections (pool events, so every worker's add up)."""

    def checked_out(*_: Any) -> None:
        DATABASE_CONNECTIONS_IN_USE.inc()

    def checked_in(*_: Any) -> None:
        DATABASE_CONNECTIONS_IN_USE.dec()

    event.listen(engine.sync_engine, "checkout", checked_out)
    event.listen(engine.sync_engine, "checkin", checked_in)
