"""Contract §1.2 on the real stack: a credential of the wrong kind is `16`, and a token is
good only while its session exists and is open."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from adapters.security.tokens import JwtTokenIssuer
from entrypoints.app import create_app
from entrypoints.container import JWT_AUDIENCE, JWT_ISSUER
from entrypoints.settings import Settings
from tests.e2e.agent_flows import create_api_key
from tests.e2e.conftest import E2E_JWT_SECRET
from tests.e2e.flows import bearer, sign_up
from tests.e2e.tenancy_flows import assert_error
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.e2e

Client = AsyncTestClient[Any]
INTERNAL_KEY = "internal-key-for-the-credential-kind-tests-0123456"
ALL_SCOPES = ("chat:write", "agents:read", "agents:write", "leads:read", "usage:read")


@pytest.fixture(scope="module")
async def client(e2e_settings: Settings) -> AsyncIterator[Client]:
    settings = e2e_settings.with_overrides(internal_api_keys=(INTERNAL_KEY,))
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


async def test_an_internal_key_on_a_tenants_own_endpoint_is_the_wrong_kind(
    client: Client,
) -> None:
    for path in ("/mapping/v1/agents", "/account/v1/tenant/members", "/account/v1/user/tenants"):
        assert_error(await client.get(path, headers=bearer(INTERNAL_KEY)), 401, 16)


async def test_an_api_key_on_a_persons_endpoint_is_the_wrong_kind(
    client: Client, mailbox: Mailbox
) -> None:
    _, owner = await sign_up(client, mailbox)
    key = await create_api_key(client, owner, *ALL_SCOPES)
    listed = await client.get("/account/v1/tenant/api-keys", headers=bearer(owner))
    key_id = listed.json()["api_keys"][0]["id"]
    refused = await client.delete(f"/account/v1/tenant/api-keys/{key_id}", headers=bearer(key))
    assert_error(refused, 401, 16)
    # A key without the scope for something keys may do stays 7 (right kind, no right).
    chat_only = await create_api_key(client, owner, "chat:write")
    assert_error(await client.get("/mapping/v1/agents", headers=bearer(chat_only)), 403, 7)
    assert (await client.get("/mapping/v1/agents", headers=bearer(key))).status_code == 200


async def test_a_well_signed_token_of_a_session_that_never_existed_is_refused(
    client: Client, mailbox: Mailbox
) -> None:
    _, token = await sign_up(client, mailbox)
    me = (await client.get("/account/v1/user", headers=bearer(token))).json()["user"]
    issuer = JwtTokenIssuer(E2E_JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE)
    forged = issuer.issue(me["id"], "a-session-nobody-opened")
    assert_error(await client.get("/account/v1/user", headers=bearer(forged)), 401, 16)
    assert (await client.get("/account/v1/user", headers=bearer(token))).status_code == 200
