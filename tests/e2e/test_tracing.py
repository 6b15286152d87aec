"""Traces leave over real OTLP/HTTP to an in-process receiver (oteltap)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from oteltap import OtelTapHttpProtobufReceiver, OtelTapHttpProtobufReceiverSettings

from entrypoints.app import create_app
from entrypoints.container import Overrides
from entrypoints.settings import Settings
from entrypoints.telemetry import configure_tracing
from tests.e2e.flows import bearer, sign_up
from tests.support.mailbox import Mailbox, free_port


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[OtelTapHttpProtobufReceiver, int]]:
    port = free_port()
    tap = OtelTapHttpProtobufReceiver(OtelTapHttpProtobufReceiverSettings(http_port=port))
    await tap.start()
    try:
        yield tap, port
    finally:
        await tap.stop()


def attributes(span: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in span.attributes:
        value = item.value
        found[item.key] = (
            getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None
        )
    return found


def test_tracing_is_off_without_otel_variables(e2e_settings: Settings) -> None:
    assert configure_tracing(e2e_settings, env={}) is None
    assert (
        configure_tracing(
            e2e_settings,
            env={"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"},
        )
        is None
    )


async def test_request_exports_server_sql_and_redis_spans_with_the_request_id(
    e2e_settings: Settings,
    mailbox: Mailbox,
    receiver: tuple[OtelTapHttpProtobufReceiver, int],
) -> None:
    tap, port = receiver
    provider = configure_tracing(
        e2e_settings,
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_SERVICE_NAME": "astra-test",
        },
    )
    assert provider is not None
    app = create_app(e2e_settings, Overrides(tracer_provider=provider))
    async with AsyncTestClient(app=app) as client:
        _, token = await sign_up(client, mailbox)
        response = await client.get(
            "/account/v1/user", headers={**bearer(token), "X-Request-ID": "trace-me-1"}
        )
        assert response.status_code == 200
        traceparent = response.headers["traceparent"]
    # The receiver runs on this event loop: flush from a thread so it can answer.
    await asyncio.to_thread(provider.force_flush)

    server = await tap.await_trace(
        lambda span: attributes(span).get("http.request_id") == "trace-me-1", timeout=30
    )
    assert traceparent.split("-")[1] == server.trace_id.hex()
    sql = await tap.await_trace(
        lambda span: (
            span.trace_id == server.trace_id
            and attributes(span).get("db.system") == "postgresql"
            and "FROM users" in str(attributes(span).get("db.statement", ""))
        ),
        timeout=30,
    )
    assert sql.parent_span_id, "the SQL span hangs under the request's server span"
    redis = await tap.await_trace(
        lambda span: attributes(span).get("db.system") == "redis", timeout=30
    )
    assert redis.name
    await asyncio.to_thread(provider.shutdown)
