"""Input no operation can store or decode is `3` naming where it is, never a 500 — on
PostgreSQL, which cannot store NUL in text, through the whole HTTP stack."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.e2e.agent_flows import create_api_key
from tests.e2e.flows import bearer, sign_up
from tests.e2e.tenancy_flows import assert_error
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.e2e

Client = AsyncTestClient[Any]
JSON = {"content-type": "application/json"}


async def test_json_the_decoder_cannot_take_is_refused(client: Client) -> None:
    for body, problem in (
        (b"[" * 1000 + b"]" * 1000, "nested too deeply"),
        (b'{"email": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply"),
        (b'{"email": "\xff\xfe", "password": "x"}', "not valid UTF-8"),
    ):
        response = await client.post("/account/v1/auth/login", content=body, headers=JSON)
        assert_error(response, 400, 3)
        assert problem in response.json()["message"]


async def test_a_nul_anywhere_is_refused_naming_the_field(client: Client, mailbox: Mailbox) -> None:
    _, token = await sign_up(client, mailbox)
    chat_key = await create_api_key(client, token, "chat:write", "agents:read")
    cases = [
        (client.post("/account/v1/auth/login", json={"email": "a\x00@x.com", "password": "x"}),
         "email"),
        (client.post("/account/v1/tenant/api-keys", json={"name": "k\x00", "scopes": []},
                     headers=bearer(token)), "name"),
        (client.post("/chat/v1/messages", headers=bearer(chat_key),
                     json={"agent_id": "a", "external_user_id": "u\x00", "message_content": "hi"}),
         "external_user_id"),
        (client.post("/chat/v1/messages", headers=bearer(chat_key),
                     json={"agent_id": "a", "external_user_id": "u", "message_content": "h\x00i",
                           "inputs": {"nested": ["ok", "n\x00"]}}),
         "message_content"),
        (client.get("/chat/v1/conversations", params={"external_user_id": "u\x00"},
                    headers=bearer(chat_key)), "external_user_id"),
        (client.get("/mapping/v1/agents/agent%00id", headers=bearer(chat_key)), "path"),
    ]  # fmt: skip
    for request, field in cases:
        response = await request
        assert_error(response, 400, 3)
        assert response.json()["message"].startswith(f"{field}:"), response.text
        assert "\x00" not in response.text
        assert "x-request-id" in response.headers
