"""One structured access line per request: request and trace ids, the tenant, the route
template (never the raw path), the status and the duration — written through the JSON log
formatter with nothing of the request's secrets in it."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from entrypoints.app import create_app
from entrypoints.logs import JsonFormatter
from entrypoints.settings import Settings, load_settings
from tests.e2e.agent_flows import create_api_key
from tests.e2e.flows import bearer, sign_up
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.e2e

Client = AsyncTestClient[Any]


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.name == "astra.access"
    ]


async def test_every_request_leaves_one_access_line(
    client: Client, mailbox: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    _, token = await sign_up(client, mailbox)
    secret = await create_api_key(client, token, "agents:read")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="astra.access"):
        listed = await client.get(
            "/mapping/v1/agents", headers={**bearer(secret), "X-Request-ID": "req-access-1"}
        )
        missing = await client.get(
            f"/mapping/v1/agents/nope-{secret}/config", headers=bearer(secret)
        )
        unknown = await client.get("/no/such/route", headers=bearer(token))

    assert (listed.status_code, missing.status_code, unknown.status_code) == (200, 404, 404)
    lines = access_lines(caplog)
    assert len(lines) == 3, lines
    first, second, third = lines
    assert first["message"] == "request"
    assert first["request_id"] == "req-access-1"
    assert (first["method"], first["route"], first["status"]) == ("GET", "/mapping/v1/agents", 200)
    assert first["tenant_id"]  # an API key acts on its tenant
    assert isinstance(first["duration_ms"], float)
    assert first["duration_ms"] >= 0
    # The template, not the path: the id (here carrying a key secret) never reaches the log.
    assert second["route"] == "/mapping/v1/agents/{agent_id}/config"
    assert second["status"] == 404
    assert (third["route"], third["status"]) == ("(unmatched)", 404)
    for line in lines:
        assert secret not in json.dumps(line)
        assert token not in json.dumps(line)
        assert len(line["request_id"]) >= 8


async def test_the_access_log_can_be_turned_off(
    e2e_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    assert load_settings({"ASTRA_ACCESS_LOG": "false"}).access_log is False
    settings = e2e_settings.with_overrides(access_log=False)
    async with AsyncTestClient(app=create_app(settings)) as quiet:
        with caplog.at_level(logging.INFO, logger="astra.access"):
            assert (await quiet.get("/healthz")).status_code == 200
    assert access_lines(caplog) == []
