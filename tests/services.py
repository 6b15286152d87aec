"""Where the test suites find PostgreSQL and Redis.

Order: `ASTRA_TEST_DATABASE_URL` / `ASTRA_TEST_REDIS_URL`, then testcontainers when a Docker
daemon answers, then the local servers on 127.0.0.1. An unreachable service fails the run: the
suites never skip silently.

Test databases are named `astra_test_<unix time>_<random>`: the session fixtures drop their own
at the end, the run's guard process (`tests.support.peers`) drops them if the run dies first,
and `drop_stale_databases` drops those a crashed run still left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import redis.asyncio as redis_asyncio
from sqlalchemy.engine import make_url

from tests.support.peers import forget_database, watch_database

LOCAL_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
DATABASE_PREFIX = "astra_test_"
# A run's databases live as long as the run; one older than this is a crashed run's leftover.
# Generous, so a concurrent long run (another checkout, another engineer) keeps its own.
STALE_AFTER_SECONDS = 3600
ADMIN_TIMEOUT_SECONDS = 30.0
_TIMESTAMPED = re.compile(rf"^{DATABASE_PREFIX}(\d{{10,}})_[0-9a-f]+$")


class ServiceUnavailableError(RuntimeError):
    """A required test service could not be reached."""


@dataclass(frozen=True)
class TestServices:
    __test__ = False  # not a test class, whatever its name says

    admin_database_url: str
    redis_url: str


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=2)
        client.ping()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def provide_services() -> Iterator[TestServices]:
    """Yield reachable service URLs, starting containers only when nothing is configured."""
    db_url = os.environ.get("ASTRA_TEST_DATABASE_URL", "")
    redis_url = os.environ.get("ASTRA_TEST_REDIS_URL", "")
    with contextlib.ExitStack() as stack:
        if (not db_url or not redis_url) and _docker_answers():
            from testcontainers.postgres import PostgresContainer
            from testcontainers.redis import RedisContainer

            if not db_url:
                pg = stack.enter_context(PostgresContainer("postgres:16-alpine", driver="asyncpg"))
                db_url = pg.get_connection_url()
            if not redis_url:
                rc = stack.enter_context(RedisContainer("redis:7-alpine"))
                redis_url = f"redis://{rc.get_container_host_ip()}:{rc.get_exposed_port(6379)}/0"
        services = TestServices(db_url or LOCAL_DATABASE_URL, redis_url or LOCAL_REDIS_URL)
        asyncio.run(_check_reachable(services))
        yield services


async def _check_reachable(services: TestServices) -> None:
    try:
        conn = await asyncpg.connect(_asyncpg_dsn(services.admin_database_url), timeout=5)
        await conn.close()
    except Exception as exc:
        raise ServiceUnavailableError(
            f"PostgreSQL is not reachable at {_redacted(services.admin_database_url)}: {exc!r}. "
            "Start it (see README) or set ASTRA_TEST_DATABASE_URL."
        ) from exc
    client = redis_asyncio.Redis.from_url(services.redis_url, socket_connect_timeout=5)
    try:
        await client.ping()
    except Exception as exc:
        raise ServiceUnavailableError(
            f"Redis is not reachable at {services.redis_url}: {exc!r}. "
            "Start it (see README) or set ASTRA_TEST_REDIS_URL."
        ) from exc
    finally:
        await client.aclose()


def _asyncpg_dsn(sqlalchemy_url: str) -> str:
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(False)


def _redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


async def create_database(admin_url: str) -> str:
    """Create a fresh database for this run and return its SQLAlchemy URL."""
    name = f"{DATABASE_PREFIX}{int(time.time())}_{secrets.token_hex(4)}"
    dsn = _asyncpg_dsn(admin_url)
    # Registered first: a run killed during CREATE still has it dropped (IF EXISTS).
    watch_database(dsn, name)
    conn = await asyncpg.connect(dsn, timeout=ADMIN_TIMEOUT_SECONDS)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"', timeout=ADMIN_TIMEOUT_SECONDS)
    finally:
        await conn.close()
    return make_url(admin_url).set(database=name).render_as_string(False)


async def drop_database(admin_url: str, database_url: str) -> None:
    name = make_url(database_url).database
    assert name is not None
    await _drop(admin_url, [name])


async def _drop(admin_url: str, names: list[str]) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(admin_url), timeout=ADMIN_TIMEOUT_SECONDS)
    try:
        for name in names:
            await conn.execute(
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', timeout=ADMIN_TIMEOUT_SECONDS
            )
            forget_database(name)
    finally:
        await conn.close()


async def drop_stale_databases(
    admin_url: str, older_than_seconds: float = STALE_AFTER_SECONDS
) -> list[str]:
    """Drop the test databases that crashed runs left behind; returns their names."""
    now = time.time()
    conn = await asyncpg.connect(_asyncpg_dsn(admin_url), timeout=ADMIN_TIMEOUT_SECONDS)
    try:
        names = [
            row["datname"]
            for row in await conn.fetch(
                "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", DATABASE_PREFIX
            )
        ]
    finally:
        await conn.close()
    stale = [
        name
        for name in names
        if (found := _TIMESTAMPED.match(name)) and now - int(found[1]) > older_than_seconds
    ]
    if stale:
        await _drop(admin_url, stale)
    return stale


async def delete_redis_prefix(redis_url: str, prefix: str) -> None:
    client = redis_asyncio.Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
