"""Shared fixtures: one PostgreSQL database and one Redis key prefix per test run."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.services import (
    TestServices,
    create_database,
    delete_redis_prefix,
    drop_database,
    provide_services,
)
from tests.support.llama import llama_server

__all__ = ["llama_server"]  # a session fixture any test may request (a real llama.cpp server)


@pytest.fixture(scope="session")
def services() -> Iterator[TestServices]:
    with provide_services() as found:
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
