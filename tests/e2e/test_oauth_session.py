"""The internal Session hand-off and the login-code exchange (contract §3): a trusted broker
hands over a verified identity, the browser lands on the post-callback page with a one-time
`login_code`, and the app exchanges it for an access token that works on TOKEN endpoints."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar.testing import AsyncTestClient

from entrypoints.app import create_app
from entrypoints.settings import Settings
from tests.e2e.flows import DEFAULT_PASSWORD, bearer, new_email, sign_up
from tests.e2e.tenancy_flows import Client, assert_error
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.e2e

INTERNAL_KEY = "internal-key-for-the-oauth-e2e-tests-0123456789"
SESSION = "/account/internal/v1/auth/session"
EXCHANGE = "/account/v1/auth/oauth/exchange"
POST_CALLBACK = "http://app.test/auth/oauth/callback"


@pytest.fixture(scope="module")
async def internal_client(e2e_settings: Settings) -> AsyncIterator[Client]:
    settings = e2e_settings.with_overrides(internal_api_keys=(INTERNAL_KEY,))
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


async def hand_off(client: Client, email: str, provider: str = "google", **extra: Any) -> Any:
    body = {"email": email, "provider": provider, "access_token": "at", "extra": extra}
    response = await client.post(SESSION, json=body, headers=bearer(INTERNAL_KEY))
    assert response.status_code == 200, response.text
    return response.json()


def login_code_in(redirect_url: str) -> str:
    parts = urlsplit(redirect_url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == POST_CALLBACK
    return parse_qs(parts.query)["login_code"][0]


async def test_a_new_person_is_signed_up_and_a_returning_one_signed_in(
    internal_client: Client,
) -> None:
    email = new_email()
    first = await hand_off(internal_client, email, sub="google-123")
    assert (first["error_code"], first["is_new_user"]) == ("SC_OK", True)
    exchanged = await internal_client.post(
        EXCHANGE, json={"login_code": login_code_in(first["redirect_url"])}
    )
    assert exchanged.status_code == 200, exchanged.text
    assert exchanged.json()["is_new_user"] is True
    token = exchanged.json()["token"]
    me = (await internal_client.get("/account/v1/user", headers=bearer(token))).json()["user"]
    assert (me["email"], me["is_initialized"], me["email_verified"]) == (email, True, True)
    assert "google" in me["auth_providers"]
    tenants = await internal_client.get("/account/v1/user/tenants/current", headers=bearer(token))
    assert tenants.json()["tenant"]["plan"] == "NEW_USER_TRIAL"
    assert tenants.json()["tenant"]["role"] == "owner"

    again = await hand_off(internal_client, email, sub="google-123")
    assert (again["error_code"], again["is_new_user"]) == ("SC_OK", False)
    returning = await internal_client.post(
        EXCHANGE, json={"login_code": login_code_in(again["redirect_url"])}
    )
    assert returning.json()["is_new_user"] is False
    me_again = await internal_client.get(
        "/account/v1/user", headers=bearer(returning.json()["token"])
    )
    assert me_again.json()["user"]["id"] == me["id"]


async def test_an_existing_password_account_is_linked_by_the_verified_email(
    internal_client: Client, mailbox: Mailbox
) -> None:
    email, password_token = await sign_up(internal_client, mailbox)
    handed = await hand_off(internal_client, email, provider="wati")
    assert (handed["error_code"], handed["is_new_user"]) == ("SC_OK", False)
    exchanged = await internal_client.post(
        EXCHANGE, json={"login_code": login_code_in(handed["redirect_url"])}
    )
    me = (
        await internal_client.get("/account/v1/user", headers=bearer(exchanged.json()["token"]))
    ).json()
    mine = (await internal_client.get("/account/v1/user", headers=bearer(password_token))).json()
    assert me["user"]["id"] == mine["user"]["id"]
    login = await internal_client.post(
        "/account/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    assert login.status_code == 200  # the password still works


async def test_a_login_code_works_once_even_when_raced(internal_client: Client) -> None:
    handed = await hand_off(internal_client, new_email())
    code = login_code_in(handed["redirect_url"])
    results = await asyncio.gather(
        *(internal_client.post(EXCHANGE, json={"login_code": code}) for _ in range(8))
    )
    assert sorted(r.status_code for r in results) == [200] + [401] * 7
    for body in ({"login_code": code}, {"login_code": "not-a-code"}, {}):
        assert_error(await internal_client.post(EXCHANGE, json=body), 401, 16)


async def test_refusals(internal_client: Client, mailbox: Mailbox) -> None:
    unknown = await internal_client.post(
        SESSION, json={"email": new_email(), "provider": "myspace"}, headers=bearer(INTERNAL_KEY)
    )
    assert_error(unknown, 404, 5)
    _, user_token = await sign_up(internal_client, mailbox)
    wrong_kind = await internal_client.post(
        SESSION, json={"email": new_email(), "provider": "google"}, headers=bearer(user_token)
    )
    assert_error(wrong_kind, 401, 16)
    assert_error(await internal_client.get("/account/v1/auth/oauth/myspace/callback-url"), 404, 5)
    urls = await internal_client.get("/account/v1/auth/oauth/google/callback-url")
    assert urls.json()["callback_url"] == (
        "http://testserver.local/account/v1/auth/oauth/google/callback"
    )
    post = await internal_client.get("/account/v1/auth/oauth/wati/post-callback-url")
    assert post.json()["redirect_url"] == POST_CALLBACK
