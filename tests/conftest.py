"""Shared fixtures: one PostgreSQL database and one Redis key prefix per test run.

Also what keeps a run from leaving anything behind: the orphan guard (`tests.support.peers`)
started for the run, the sweep of databases older runs left, and per-test timeouts that cancel
a hung async test (`tests.support.timeouts`; the limit itself is in pyproject.toml).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.services import (
    TestServices,
    create_database,
    delete_redis_prefix,
    drop_database,
    drop_stale_databases,
    provide_services,
)
from tests.support.llama import llama_server
from tests.support.peers import start_guard, stop_guard
from tests.support.timeouts import pytest_pyfunc_call, pytest_timeout_set_timer

__all__ = [
    "llama_server",  # a session fixture any test may request (a real llama.cpp server)
    "pytest_pyfunc_call",  # hooks of tests.support.timeouts, active for the whole suite
    "pytest_timeout_set_timer",
]


def pytest_configure(config: pytest.Config) -> None:
    # First, so that whatever the run starts (in any fixture or test) is covered.
    start_guard()


def pytest_unconfigure(config: pytest.Config) -> None:
    stop_guard()


@pytest.fixture(scope="session")
def services() -> Iterator[TestServices]:
    with provide_services() as found:
        # Databases of runs that died without dropping theirs (and whose guard died too).
        asyncio.run(drop_stale_databases(found.admin_database_url))
        yield found


@pytest.fixture(scope="session")
async def database_url(services: TestServices) -> AsyncIterator[str]:
    """A PostgreSQL database of this run's own, dropped at the end (empty, not migrated)."""
    url = await create_database(services.admin_database_url)
    try:
        yield url
    finally:
        await drop_database(services.admin_database_url, url)


@pytest.fixture(scope="session")
async def redis_prefix(services: TestServices) -> AsyncIterator[str]:
    """A Redis key prefix of this run's own; its keys are deleted at the end."""
    prefix = f"astra-test-{secrets.token_hex(4)}:"
    try:
        yield prefix
    finally:
        await delete_redis_prefix(services.redis_url, prefix)


@pytest.fixture(scope="session")
def redis_url(services: TestServices) -> str:
    return services.redis_url
