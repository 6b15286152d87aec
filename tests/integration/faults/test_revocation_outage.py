"""Logout and password change while Redis cannot take the revocation: never half-done.

Either the answer is 503 `14` and the session still works (so a retry logs out), or the session
is refused everywhere. Redis runs privately (`tests.faults_support`) so it can be stopped, or
made to refuse writes the way a primary that lost its replicas does (`min-replicas-to-write`),
which fails the revocation's write while the request's own revocation lookup still answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis_asyncio
from litestar.testing import AsyncTestClient

from domain.errors import ErrorCode
from entrypoints.app import create_app
from entrypoints.settings import Settings, SmtpSettings
from tests.e2e.flows import DEFAULT_PASSWORD, bearer, sign_up
from tests.faults_support import PrivateRedis, private_redis
from tests.support.mailbox import Mailbox, running_mailbox

pytestmark = pytest.mark.integration

Client = AsyncTestClient[Any]
NEW_PASSWORD = "a different horse battery"


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with running_mailbox() as box:
        yield box


@pytest.fixture
async def client(
    tmp_path: Path, redis_server: PrivateRedis, mailbox: Mailbox
) -> AsyncIterator[Client]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'astra.db'}",
        redis_url=redis_server.url,
        jwt_secret="revocation-outage-jwt-secret-long-enough-0123",
        data_dir=tmp_path / "data",
        smtp=SmtpSettings(host=mailbox.host, port=mailbox.port, starttls=False),
        argon2_time_cost=1,
        argon2_memory_kib=8192,
    )
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


async def refuse_writes(server: PrivateRedis, refuse: bool) -> None:
    admin = redis_asyncio.Redis.from_url(server.url)
    try:
        await admin.config_set("min-replicas-to-write", 1 if refuse else 0)
    finally:
        await admin.aclose()


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["code"] == int(ErrorCode.UNAVAILABLE)
    assert int(response.headers["retry-after"]) >= 1


async def session_works(client: Client, token: str) -> bool:
    """The access token is accepted and the session can still be refreshed."""
    account = await client.get("/account/v1/user", headers=bearer(token))
    refresh = await client.post("/account/v1/auth/token/refresh", json={"token": token})
    assert {account.status_code, refresh.status_code} <= {200, 401}, (account, refresh)
    # Both or neither: a session refused by one and accepted by the other is half-done.
    assert (account.status_code == 200) == (refresh.status_code == 200), (
        account.text,
        refresh.text,
    )
    return account.status_code == 200


async def test_logout_refused_by_redis_answers_503_and_leaves_the_session_working(
    client: Client, redis_server: PrivateRedis, mailbox: Mailbox
) -> None:
    _, token = await sign_up(client, mailbox)
    await refuse_writes(redis_server, True)

    assert_unavailable(await client.post("/account/v1/auth/logout", headers=bearer(token)))
    assert await session_works(client, token)

    await refuse_writes(redis_server, False)
    assert (await client.post("/account/v1/auth/logout", headers=bearer(token))).status_code == 200
    assert not await session_works(client, token)


async def test_password_change_refused_by_redis_changes_nothing(
    client: Client, redis_server: PrivateRedis, mailbox: Mailbox
) -> None:
    email, token = await sign_up(client, mailbox)
    login = await client.post(
        "/account/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    other = login.json()["token"]
    change = {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}
    await refuse_writes(redis_server, True)

    assert_unavailable(
        await client.put("/account/v1/user/password", json=change, headers=bearer(token))
    )
    assert await session_works(client, other)

    await refuse_writes(redis_server, False)
    changed = await client.put("/account/v1/user/password", json=change, headers=bearer(token))
    assert changed.status_code == 200, changed.text
    assert not await session_works(client, other)
    assert await session_works(client, token)


async def test_logout_as_redis_goes_down_is_503_or_done_never_half_done(
    client: Client, redis_server: PrivateRedis, mailbox: Mailbox
) -> None:
    _, token = await sign_up(client, mailbox)
    assert await session_works(client, token)  # "not revoked" now cached for a moment
    redis_server.stop()
    try:
        logout = await client.post("/account/v1/auth/logout", headers=bearer(token))
        assert_unavailable(logout)
    finally:
        redis_server.start()
    # Redis is back (empty: it keeps nothing on disk): the session must still be whole.
    assert await session_works(client, token)
    assert (await client.post("/account/v1/auth/logout", headers=bearer(token))).status_code == 200
    assert not await session_works(client, token)
