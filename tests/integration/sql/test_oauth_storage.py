"""Sign-ins in flight, login codes and WATI links on SQLite and PostgreSQL: an attempt is
taken once however many callbacks race for it, expired rows are swept, a WATI link is
replaced in place."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import uuid4

import pytest

from adapters.sql.uow import SqlUnitOfWorkFactory
from domain.errors import Unavailable
from domain.identity.oauth import ATTEMPT_LIFETIME, LoginCode, OAuthAttempt, WatiLink
from tests.integration.sql.factories import make_tenant, make_user, utc_now

pytestmark = pytest.mark.integration

RETRIES = 2


def attempt(now_offset: timedelta = timedelta()) -> OAuthAttempt:
    now = utc_now() + now_offset
    return OAuthAttempt(
        state_hash=uuid4().hex,
        provider="google",
        browser_hash="b" * 64,
        nonce="nonce",
        code_verifier="v" * 43,
        expires_at=now + ATTEMPT_LIFETIME,
        created_at=now,
    )


async def take(uow_factory: SqlUnitOfWorkFactory, state_hash: str) -> bool:
    async with uow_factory() as uow:
        taken = await uow.oauth.take_attempt(state_hash, utc_now())
        await uow.commit()
    return taken is not None


async def take_as_a_client_would(uow_factory: SqlUnitOfWorkFactory, state_hash: str) -> bool:
    """`take`, retried on `14` as the answer tells clients to: SQLite has one writer, and in
    the full suite on a busy machine one of eight racing writers has (rarely) waited out the
    busy timeout. Its transaction then took nothing, so the retry sees the outcome."""
    for _ in range(RETRIES):
        try:
            return await take(uow_factory, state_hash)
        except Unavailable:
            continue
    return await take(uow_factory, state_hash)


async def test_racing_callbacks_take_an_attempt_once(uow_factory: SqlUnitOfWorkFactory) -> None:
    started = attempt()
    async with uow_factory() as uow:
        await uow.oauth.add_attempt(started)
        await uow.commit()
    racers = (take_as_a_client_would(uow_factory, started.state_hash) for _ in range(8))
    results = await asyncio.gather(*racers)
    assert sorted(results) == [False] * 7 + [True]


async def test_expired_attempts_and_codes_are_swept_and_refused(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    user = make_user()
    old = attempt(-ATTEMPT_LIFETIME - timedelta(seconds=1))
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.oauth.add_attempt(old)
        await uow.oauth.add_login_code(
            LoginCode("c" + uuid4().hex, user.id, False, old.expires_at, old.created_at)
        )
        await uow.commit()
    assert not await take(uow_factory, old.state_hash)  # expired: refused even before a sweep
    async with uow_factory() as uow:
        await uow.oauth.add_attempt(attempt())  # sweeps what expired before now
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.oauth.take_attempt(old.state_hash, old.created_at) is None


async def test_a_wati_link_is_replaced_in_place(uow_factory: SqlUnitOfWorkFactory) -> None:
    user, tenant = make_user(), make_tenant()
    now = utc_now()
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.tenants.add(tenant)
        await uow.oauth.save_wati_link(WatiLink(tenant.id, user.id, "a@x.io", "t1", "s1", now))
        await uow.commit()
    async with uow_factory() as uow:
        await uow.oauth.save_wati_link(WatiLink(tenant.id, user.id, "b@x.io", "t2", "s2", now))
        await uow.commit()
    async with uow_factory() as uow:
        link = await uow.oauth.get_wati_link(tenant.id)
        assert await uow.oauth.get_wati_link("no-such-tenant") is None
    assert link is not None
    assert (link.wati_email, link.wati_tenant, link.sealed_token) == ("b@x.io", "t2", "s2")
