"""OpenTelemetry set-up from the standard `OTEL_*` variables; off when none is set."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from litestar.middleware.base import DefineMiddleware
from litestar.plugins.opentelemetry import OpenTelemetryConfig
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from entrypoints.settings import Settings

logger = logging.getLogger("astra.telemetry")

_TRIGGERS = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
)


def tracing_enabled(env: Mapping[str, str]) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return any(env.get(name, "").strip() for name in _TRIGGERS)


def _exporter(env: Mapping[str, str]) -> SpanExporter:
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "console":
        return ConsoleSpanExporter()
    # Headers, compression and timeout come from the standard OTEL_* variables.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if not endpoint and env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip():
        endpoint = env["OTEL_EXPORTER_OTLP_ENDPOINT"].strip().rstrip("/") + "/v1/traces"
    return OTLPSpanExporter(endpoint=endpoint or None)


def configure_tracing(
    settings: Settings, env: Mapping[str, str] | None = None
) -> TracerProvider | None:
    """A tracer provider exporting per the environment, or None when tracing is off."""
    source = os.environ if env is None else env
    if not tracing_enabled(source):
        return None
    resource = Resource.create(
        {
            "service.name": source.get("OTEL_SERVICE_NAME", "").strip() or "astra",
            "deployment.environment": settings.env,
        }
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(_exporter(source)))
    logger.info("tracing on")
    return provider


def tracing_middleware(provider: TracerProvider) -> DefineMiddleware:
    """The server span per request; it wraps every other middleware."""
    config = OpenTelemetryConfig(tracer_provider=provider)
    return config.middleware


def instrument_clients(provider: TracerProvider, engine: AsyncEngine) -> None:
    """Client spans for SQL, Redis and outgoing HTTP."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, tracer_provider=provider)
    redis_instrumentor: Any = RedisInstrumentor()
    if not redis_instrumentor.is_instrumented_by_opentelemetry:
        redis_instrumentor.instrument(tracer_provider=provider)
    httpx_instrumentor: Any = HTTPXClientInstrumentor()
    if not httpx_instrumentor.is_instrumented_by_opentelemetry:
        httpx_instrumentor.instrument(tracer_provider=provider)


def current_traceparent() -> bytes | None:
    """The W3C `traceparent` of the active span, for response headers."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    flags = int(context.trace_flags)
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}".encode()


def current_trace_id() -> str:
    """The active trace's id as logs write it (32 hex digits), or "" outside any trace."""
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else ""


def tag_current_span(attributes: Mapping[str, str]) -> None:
    span = trace.get_current_span()
    if span.is_recording():
        for key, value in attributes.items():
            span.set_attribute(key, value)
