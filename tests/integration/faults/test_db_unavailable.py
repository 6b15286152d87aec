"""The API on a PostgreSQL that goes away: every answer is 503 `14` with `Retry-After`, never 500.

The app runs on a private cluster (`tests.faults_support`) that the tests terminate, shut down,
stop, restart as a standby that accepts no sessions, or replace with a socket that accepts and
closes. Three request paths reach the database differently: sign-in (a unit of work), the
account read (the read model, no unit of work) and sign-up (a unit of work that writes).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.security.tokens import JwtTokenIssuer
from adapters.sql.identity.reader import SqlAccountReader
from bench.infra import free_port
from domain.errors import ErrorCode, Unavailable
from entrypoints.app import create_app
from entrypoints.container import JWT_AUDIENCE, JWT_ISSUER
from entrypoints.settings import Settings
from tests.faults_support import PrivatePostgres, private_postgres

pytestmark = pytest.mark.integration

JWT_SECRET = "fault-tests-jwt-secret-that-is-long-enough-0123"
DATABASE = "astra_faults"
RECOVER_WITHIN_SECONDS = 30.0

Client = AsyncTestClient[Any]


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivatePostgres]:
    with private_postgres() as running:
        yield running


@pytest.fixture(scope="module")
async def fault_database_url(cluster: PrivatePostgres) -> str:
    return await cluster.migrated_database(DATABASE)


def settings_for(database_url: str, data_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        # In-process limits and revocations: only the database is at fault here.
        redis_url="",
        jwt_secret=JWT_SECRET,
        data_dir=data_dir,
        argon2_time_cost=1,
        argon2_memory_kib=8192,
        code_sends_per_ip_per_hour=100_000,
        login_attempts_per_ip_per_minute=100_000,
    )


@pytest.fixture(scope="module")
async def client(
    fault_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Client]:
    app = create_app(settings_for(fault_database_url, tmp_path_factory.mktemp("faults-data")))
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


_TOKENS = JwtTokenIssuer(JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE)


def unknown_user_token() -> str:
    """A well-signed token of a user nobody has read yet: the account cache cannot answer."""
    return _TOKENS.issue(f"user-{secrets.token_hex(6)}", f"session-{secrets.token_hex(6)}")


def new_email() -> str:
    return f"fault-{secrets.token_hex(6)}@example.com"


async def sign_in(client: Client) -> httpx.Response:
    return await client.post(
        "/account/v1/auth/login", json={"email": new_email(), "password": "wrong password 1"}
    )


async def read_account(client: Client) -> httpx.Response:
    headers = {"Authorization": f"Bearer {unknown_user_token()}"}
    return await client.get("/account/v1/user", headers=headers)


async def sign_up(client: Client) -> httpx.Response:
    return await client.post("/account/v1/auth/register", json={"email": new_email()})


async def every_path(client: Client) -> list[httpx.Response]:
    return [await sign_in(client), await read_account(client), await sign_up(client)]


def assert_unavailable(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path}"
    assert response.status_code == 503, f"{where}: {response.status_code} {response.text}"
    assert response.json()["code"] == int(ErrorCode.UNAVAILABLE), response.text
    assert int(response.headers["retry-after"]) >= 1, response.headers


async def assert_healthy(client: Client) -> None:
    """The answers of a working database: unknown credentials, unknown account, code sent."""
    login, account, register = await every_path(client)
    assert login.status_code == 401, login.text
    assert account.status_code == 401, account.text
    assert register.status_code == 200, register.text


async def recover(client: Client) -> None:
    """Wait until sign-in works again; meanwhile only 503 may be answered (dead pooled links)."""
    deadline = time.monotonic() + RECOVER_WITHIN_SECONDS
    while True:
        response = await sign_in(client)
        if response.status_code == 401:
            break
        assert_unavailable(response)
        assert time.monotonic() < deadline, "the API did not recover after the database did"
    await assert_healthy(client)


async def terminate_app_sessions(connection: asyncpg.Connection) -> int:
    terminated: int = await connection.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = $1 AND pid <> pg_backend_pid()",
        DATABASE,
    )
    return terminated


async def wait_for_refusal(cluster: PrivatePostgres, sqlstate: str | None) -> None:
    """Until a new connection is refused the way the test needs (`None`: nothing listens)."""
    deadline = time.monotonic() + RECOVER_WITHIN_SECONDS
    while time.monotonic() < deadline:
        try:
            probe = await asyncpg.connect(cluster.dsn(DATABASE), timeout=5)
        except asyncpg.PostgresError as error:
            if error.sqlstate == sqlstate:
                return
        except OSError:
            if sqlstate is None:
                return
        else:
            await probe.close()
        await asyncio.sleep(0.02)
    raise AssertionError(f"the cluster never refused connections with {sqlstate}")


async def test_terminated_pooled_connections_answer_503_then_recover(
    client: Client, cluster: PrivatePostgres
) -> None:
    await assert_healthy(client)  # the pool now holds connections
    admin = await asyncpg.connect(cluster.dsn(), timeout=10)
    try:
        # What a failover or `pg_terminate_backend` does: 57P01 on every pooled connection.
        assert await terminate_app_sessions(admin) >= 1
    finally:
        await admin.close()
    # Which request meets a dead pooled link first (this one, or a background job) is a
    # race: what matters is that it is answered either normally or 503, never 500.
    await recover(client)


async def test_a_database_shutting_down_then_stopped_answers_503(
    client: Client, cluster: PrivatePostgres
) -> None:
    await assert_healthy(client)
    # A smart shutdown waits for open sessions and refuses new ones with 57P03 ("the database
    # system is shutting down"), which asyncpg raises unwrapped while connecting.
    blocker = await asyncpg.connect(cluster.dsn(), timeout=10)
    try:
        await terminate_app_sessions(blocker)
        cluster.stop("smart", wait=False)
        await wait_for_refusal(cluster, "57P03")
        for response in await every_path(client) + await every_path(client):
            assert_unavailable(response)
    finally:
        await blocker.close()
    # The last session is gone: the shutdown completes and connections are refused outright.
    await wait_for_refusal(cluster, None)
    try:
        for response in await every_path(client):
            assert_unavailable(response)
    finally:
        if not cluster.is_running():
            cluster.start()
    await recover(client)


async def test_a_database_starting_up_answers_503(client: Client, cluster: PrivatePostgres) -> None:
    await assert_healthy(client)
    cluster.stop("fast")
    try:
        # In recovery with hot standby off, every session is refused with 57P03 ("not
        # accepting connections"), as while a primary replays its WAL after a restart.
        cluster.start(standby=True)
        await wait_for_refusal(cluster, "57P03")
        for response in await every_path(client) + await every_path(client):
            assert_unavailable(response)
    finally:
        cluster.stop("fast")
        cluster.start()
    await recover(client)


@contextlib.asynccontextmanager
async def hanging_up_server() -> AsyncIterator[int]:
    """A port that accepts TCP connections and closes them at once, before any handshake."""

    async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    port = free_port()
    server = await asyncio.start_server(hang_up, "127.0.0.1", port)
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


async def test_a_server_that_hangs_up_answers_503(tmp_path: Path, fault_database_url: str) -> None:
    async with hanging_up_server() as port:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{DATABASE}"
        app = create_app(settings_for(url, tmp_path))
        async with AsyncTestClient(app=app) as hung_up:
            for response in await every_path(hung_up):
                assert_unavailable(response)


async def test_a_pool_with_no_free_connection_is_unavailable(fault_database_url: str) -> None:
    """SQLAlchemy's pool timeout surfaces from the adapter as `Unavailable`."""
    engine = create_async_engine(fault_database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        reader = SqlAccountReader(engine)
        async with engine.connect():  # holds the pool's only connection
            with pytest.raises(Unavailable):
                await reader.account("nobody")
        assert await reader.account("nobody") is None
    finally:
        await engine.dispose()
