"""Signing in with an OpenID Connect provider through the browser redirects (contract §3),
against a real provider on loopback (oidc-provider-mock, RS256, PKCE, nonce required).

The "browser" is an httpx client with a cookie jar: it asks Astra to start (302 to the
provider), signs a person in at the provider (302 back to Astra's callback), follows that
to Astra (302 to the post-callback page with `login_code` or `error`), and the app then
exchanges the code for an access token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.sql.migrate import upgrade
from bench.infra import free_port
from domain.tenancy.models import Role
from entrypoints.app import create_app
from entrypoints.container import Overrides
from entrypoints.settings import OAuthProviderSettings, Settings
from tests.e2e.agent_flows import join_as
from tests.e2e.flows import bearer, new_email, sign_up
from tests.e2e.tenancy_flows import Client, assert_error
from tests.fakes.clock import FixedClock
from tests.support.mailbox import Mailbox
from tests.support.oidc import (
    OidcProvider,
    path_and_query,
    query_of,
    running_oidc_provider,
    with_query,
)

pytestmark = pytest.mark.e2e

OAUTH = "/account/v1/auth/oauth"
EXCHANGE = f"{OAUTH}/exchange"
POST_CALLBACK = "http://app.test/auth/oauth/callback"


@pytest.fixture(scope="module")
async def provider() -> AsyncIterator[OidcProvider]:
    async with running_oidc_provider() as running:
        yield running


def oauth_settings(base: Settings, issuer: str, *providers: str) -> Settings:
    return base.with_overrides(
        oauth={
            name: OAuthProviderSettings(f"astra-{name}", f"secret-{name}", issuer)
            for name in providers
        },
        encryption_keys=("e2e-encryption-key-that-is-long-enough-0123",),
    )


@dataclass
class World:
    astra: Client
    provider: OidcProvider
    clock: FixedClock


@pytest.fixture(scope="module")
async def world(e2e_settings: Settings, provider: OidcProvider) -> AsyncIterator[World]:
    clock = FixedClock(datetime.now(UTC))
    settings = oauth_settings(e2e_settings, provider.issuer, "google", "wati")
    app = create_app(settings, Overrides(clock=clock))
    async with AsyncTestClient(app=app) as astra:
        yield World(astra, provider, clock)


@asynccontextmanager
async def browser(world: World) -> AsyncIterator[Client]:
    """A fresh browser at the same Astra: an empty cookie jar (a second test client would
    run the app's shutdown when it closes)."""
    world.astra.cookies.clear()
    try:
        yield world.astra
    finally:
        world.astra.cookies.clear()


async def start(client: Client, provider: str = "google") -> str:
    """Astra's 302 to the provider's authorization URL."""
    response = await client.get(f"{OAUTH}/{provider}/login", follow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def back_at_astra(client: Client, callback_url: str) -> dict[str, str]:
    """Follow the provider's redirect to Astra; the post-callback page's query."""
    assert callback_url.startswith("http://testserver.local/account/v1/auth/oauth/")
    response = await client.get(path_and_query(callback_url), follow_redirects=False)
    assert response.status_code == 302, response.text
    landing = response.headers["location"]
    assert landing.startswith(f"{POST_CALLBACK}?"), landing
    return query_of(landing)


async def sign_in(world: World, client: Client, sub: str, provider: str = "google") -> str:
    landed = await back_at_astra(
        client, await world.provider.consent(await start(client, provider), sub)
    )
    assert "login_code" in landed, landed
    return landed["login_code"]


async def exchange(client: Client, login_code: str) -> dict[str, Any]:
    response = await client.post(EXCHANGE, json={"login_code": login_code})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def me(client: Client, token: str) -> dict[str, Any]:
    response = await client.get("/account/v1/user", headers=bearer(token))
    assert response.status_code == 200, response.text
    user: dict[str, Any] = response.json()["user"]
    return user


def refused(landed: dict[str, str], error: str) -> None:
    assert "login_code" not in landed, landed
    assert landed.get("error") == error, landed
    assert landed.get("error_description"), landed


async def a_person(world: World, **claims: Any) -> tuple[str, str]:
    sub, email = f"person-{uuid4().hex[:12]}", new_email()
    await world.provider.set_user(sub, email=email, email_verified=True, **claims)
    return sub, email


async def test_a_new_person_signs_up_and_then_signs_in_again(world: World) -> None:
    sub, email = await a_person(world, name="Ada")
    async with browser(world) as client:
        first = await exchange(client, await sign_in(world, client, sub))
        assert first["is_new_user"] is True
        user = await me(client, first["token"])
        assert (user["email"], user["is_initialized"], user["email_verified"]) == (
            email,
            True,
            True,
        )
        assert user["auth_providers"] == ["google"]
        tenant = await client.get(
            "/account/v1/user/tenants/current", headers=bearer(first["token"])
        )
        assert (tenant.json()["tenant"]["plan"], tenant.json()["tenant"]["role"]) == (
            "NEW_USER_TRIAL",
            "owner",
        )
        # The token works on other TOKEN endpoints too.
        tenants = await client.get("/account/v1/user/tenants", headers=bearer(first["token"]))
        assert tenants.status_code == 200, tenants.text

        again = await exchange(client, await sign_in(world, client, sub))
        assert again["is_new_user"] is False
        assert (await me(client, again["token"]))["id"] == user["id"]


async def test_a_verified_email_links_the_existing_account(world: World, mailbox: Mailbox) -> None:
    email, password_token = await sign_up(world.astra, mailbox)
    existing = await me(world.astra, password_token)
    sub = f"person-{uuid4().hex[:12]}"
    await world.provider.set_user(sub, email=email.upper(), email_verified=True)
    async with browser(world) as client:
        signed_in = await exchange(client, await sign_in(world, client, sub))
        assert signed_in["is_new_user"] is False
        user = await me(client, signed_in["token"])
        assert user["id"] == existing["id"]
        assert "google" in user["auth_providers"]


async def test_an_unverified_email_does_not_take_over_an_account(
    world: World, mailbox: Mailbox
) -> None:
    email, _ = await sign_up(world.astra, mailbox)
    sub = f"person-{uuid4().hex[:12]}"
    await world.provider.set_user(sub, email=email, email_verified=False)
    async with browser(world) as client:
        landed = await back_at_astra(client, await world.provider.consent(await start(client), sub))
    refused(landed, "SC_PERMISSION_DENIED")


async def test_a_wrong_or_replayed_state_is_refused(world: World) -> None:
    sub, _ = await a_person(world)
    async with browser(world) as client:
        callback = await world.provider.consent(await start(client), sub)
        forged = with_query(callback, lambda q: q.update(state="forged-state"))
        refused(await back_at_astra(client, forged), "SC_UNAUTHENTICATED")
        assert "login_code" in await back_at_astra(client, callback)
        refused(await back_at_astra(client, callback), "SC_UNAUTHENTICATED")  # replayed


async def test_a_callback_in_another_browser_is_refused(world: World) -> None:
    """A sign-in started in one browser cannot be finished in another (login CSRF)."""
    sub, _ = await a_person(world)
    async with browser(world) as client:
        callback = await world.provider.consent(await start(client), sub)
        attackers_cookies = httpx.Cookies(client.cookies)
        client.cookies.clear()  # the victim's browser follows the attacker's callback
        refused(await back_at_astra(client, callback), "SC_UNAUTHENTICATED")
        # The attempt is used up by the refusal: the right browser cannot finish it later.
        client.cookies = attackers_cookies
        refused(await back_at_astra(client, callback), "SC_UNAUTHENTICATED")


async def test_a_replayed_code_is_refused(world: World) -> None:
    sub, _ = await a_person(world)
    async with browser(world) as client:
        first = await world.provider.consent(await start(client), sub)
        assert "login_code" in await back_at_astra(client, first)
        fresh = await world.provider.consent(await start(client), sub)
        old_code = query_of(first)["code"]
        replayed = with_query(fresh, lambda q: q.update(code=old_code))
        refused(await back_at_astra(client, replayed), "SC_UNAUTHENTICATED")


async def test_a_wrong_nonce_is_refused(world: World) -> None:
    sub, _ = await a_person(world)
    async with browser(world) as client:
        authorization = with_query(await start(client), lambda q: q.update(nonce="other-nonce"))
        landed = await back_at_astra(client, await world.provider.consent(authorization, sub))
    refused(landed, "SC_UNAUTHENTICATED")
    assert "nonce" in landed["error_description"]


async def test_a_code_issued_to_another_client_is_refused(world: World) -> None:
    """The browser swaps the client: the provider issues the code (and so the id_token's
    audience) to someone else, and Astra's redemption fails."""
    sub, _ = await a_person(world)
    async with browser(world) as client:
        authorization = with_query(await start(client), lambda q: q.update(client_id="intruder"))
        landed = await back_at_astra(client, await world.provider.consent(authorization, sub))
    refused(landed, "SC_UNAUTHENTICATED")


async def test_the_person_declining_lands_with_an_error(world: World) -> None:
    async with browser(world) as client:
        authorization = await start(client)
        callback = with_query(
            f"http://testserver.local{OAUTH}/google/callback",
            lambda q: q.update(state=query_of(authorization)["state"], error="access_denied"),
        )
        landed = await back_at_astra(client, callback)
    refused(landed, "SC_UNAUTHENTICATED")
    assert "access_denied" in landed["error_description"]


async def test_login_codes_expire_and_work_once(world: World) -> None:
    sub, _ = await a_person(world)
    async with browser(world) as client:
        code = await sign_in(world, client, sub)
        await exchange(client, code)
        assert_error(await client.post(EXCHANGE, json={"login_code": code}), 401, 16)

        late = await sign_in(world, client, sub)
        world.clock.advance(seconds=61)
        assert_error(await client.post(EXCHANGE, json={"login_code": late}), 401, 16)


async def test_an_attempt_expires(world: World) -> None:
    sub, _ = await a_person(world)
    async with browser(world) as client:
        callback = await world.provider.consent(await start(client), sub)
        world.clock.advance(minutes=11)
        refused(await back_at_astra(client, callback), "SC_UNAUTHENTICATED")


async def test_the_json_start_sets_the_same_browser_binding(world: World) -> None:
    sub, _ = await a_person(world)
    async with browser(world) as client:
        response = await client.get(f"{OAUTH}/google")
        assert response.status_code == 200, response.text
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "path=/account/v1/auth/oauth" in cookie
        authorization = response.json()["redirect_url"]
        assert query_of(authorization)["code_challenge_method"] == "S256"
        assert query_of(authorization)["redirect_uri"] == (
            f"http://testserver.local{OAUTH}/google/callback"
        )
        landed = await back_at_astra(client, await world.provider.consent(authorization, sub))
        assert "login_code" in landed


async def test_unknown_and_unconfigured_providers(
    world: World, e2e_settings: Settings, provider: OidcProvider
) -> None:
    assert_error(await world.astra.get(f"{OAUTH}/myspace"), 404, 5)
    landed = await world.astra.get(f"{OAUTH}/myspace/login", follow_redirects=False)
    assert landed.status_code == 302
    refused(query_of(landed.headers["location"]), "SC_NOT_FOUND")
    callback = await world.astra.get(
        f"{OAUTH}/myspace/callback?code=c&state=s", follow_redirects=False
    )
    refused(query_of(callback.headers["location"]), "SC_NOT_FOUND")

    google_only = create_app(oauth_settings(e2e_settings, provider.issuer, "google"))
    async with AsyncTestClient(app=google_only) as client:
        assert_error(await client.get(f"{OAUTH}/wati"), 501, 12)
        assert (await client.get(f"{OAUTH}/google")).status_code == 200


async def test_a_provider_that_is_down(e2e_settings: Settings) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with AsyncTestClient(
        app=create_app(oauth_settings(e2e_settings, dead, "google"))
    ) as client:
        response = await client.get(f"{OAUTH}/google")
        assert_error(response, 503, 14)
        assert int(response.headers["retry-after"]) >= 1
        landed = await client.get(f"{OAUTH}/google/login", follow_redirects=False)
        assert landed.status_code == 302
        refused(query_of(landed.headers["location"]), "SC_INTERNAL")


async def test_a_provider_that_goes_down_mid_sign_in(e2e_settings: Settings) -> None:
    async with running_oidc_provider() as short_lived:
        settings = oauth_settings(e2e_settings, short_lived.issuer, "google")
        sub = f"person-{uuid4().hex[:12]}"
        await short_lived.set_user(sub, email=new_email(), email_verified=True)
        async with AsyncTestClient(app=create_app(settings)) as client:
            callback = await short_lived.consent(await start(client), sub)
            short_lived.server.process.terminate()
            short_lived.server.process.wait(timeout=30)
            landed = await back_at_astra(client, callback)
    refused(landed, "SC_INTERNAL")
    assert "unreachable" in landed["error_description"]


async def test_a_wati_owner_links_the_tenant(
    world: World, mailbox: Mailbox, e2e_settings: Settings
) -> None:
    sub, email = await a_person(world, wati_tenant="wati-tenant-42")
    async with browser(world) as client:
        owner = await exchange(client, await sign_in(world, client, sub, "wati"))
        tenant = await client.get(
            "/account/v1/user/tenants/current", headers=bearer(owner["token"])
        )
        tenant_id = tenant.json()["tenant"]["id"]
        info = await client.get(
            f"/account/v1/tenants/{tenant_id}/wati-user-info", headers=bearer(owner["token"])
        )
        assert info.status_code == 200, info.text
        body = info.json()
        assert (body["wati_email"], body["wati_tenant"]) == (email, "wati-tenant-42")
        token = body["wati_long_life_token"]
        assert token

        # Sealed at rest: the stored value is not the token.
        engine = create_async_engine(e2e_settings.database_url)
        try:
            async with engine.connect() as connection:
                sealed = (
                    await connection.execute(
                        text("SELECT sealed_token FROM wati_links WHERE tenant_id = :t"),
                        {"t": tenant_id},
                    )
                ).scalar_one()
        finally:
            await engine.dispose()
        assert token not in sealed

        # Owners and admins of that tenant see it; a normal member, a stranger and an API
        # key (a credential of the wrong kind) do not.
        url = f"/account/v1/tenants/{tenant_id}/wati-user-info"
        _, admin = await sign_up(world.astra, mailbox)
        await join_as(e2e_settings.database_url, client, admin, tenant_id, Role.ADMIN)
        assert (await client.get(url, headers=bearer(admin))).json() == body
        _, normal = await sign_up(world.astra, mailbox)
        await join_as(e2e_settings.database_url, client, normal, tenant_id, Role.NORMAL)
        assert_error(await client.get(url, headers=bearer(normal)), 403, 7)
        _, stranger = await sign_up(world.astra, mailbox)
        assert_error(await client.get(url, headers=bearer(stranger)), 403, 7)
        key = await client.post(
            "/account/v1/tenant/api-keys",
            json={"name": "integration", "scopes": ["agents:read"]},
            headers=bearer(owner["token"]),
        )
        assert key.status_code == 200, key.text
        assert_error(await client.get(url, headers=bearer(key.json()["secret"])), 401, 16)


async def test_a_tenant_without_a_wati_link(world: World, mailbox: Mailbox) -> None:
    _, token = await sign_up(world.astra, mailbox)
    tenant = await world.astra.get("/account/v1/user/tenants/current", headers=bearer(token))
    tenant_id = tenant.json()["tenant"]["id"]
    missing = await world.astra.get(
        f"/account/v1/tenants/{tenant_id}/wati-user-info", headers=bearer(token)
    )
    assert_error(missing, 404, 5)


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
async def test_racing_callbacks_sign_in_once(
    database: str, e2e_settings: Settings, provider: OidcProvider, tmp_path: Path
) -> None:
    """Eight copies of one callback at once (a double-clicking or replaying browser): one
    login code, seven refusals, on either database."""
    settings = oauth_settings(e2e_settings, provider.issuer, "google")
    if database == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'astra.db'}"
        await upgrade(url)
        settings = settings.with_overrides(database_url=url)
    sub = f"person-{uuid4().hex[:12]}"
    await provider.set_user(sub, email=new_email(), email_verified=True)
    async with AsyncTestClient(app=create_app(settings)) as client:
        callback = await provider.consent(await start(client), sub)
        landings = await asyncio.gather(*(back_at_astra(client, callback) for _ in range(8)))
    codes = [landed for landed in landings if "login_code" in landed]
    assert len(codes) == 1, landings
    for landed in landings:
        if "login_code" not in landed:
            refused(landed, "SC_UNAUTHENTICATED")
