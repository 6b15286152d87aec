"""Engines for the SQL adapter tests: the run's PostgreSQL database and a SQLite file, migrated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.migrate import upgrade
from adapters.sql.uow import SqlUnitOfWorkFactory
from tests.services import TestServices, create_database, drop_database

BACKENDS = ["postgresql", "sqlite"]


@pytest.fixture(scope="session")
async def migrated_database_url(database_url: str) -> str:
    """The run's shared PostgreSQL database at head (upgrade is idempotent for other suites)."""
    await upgrade(database_url)
    return database_url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    # A folder that does not exist yet: the engine must create it.
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'nested' / 'astra.db'}"


@pytest.fixture(scope="session")
async def migrated_sqlite_url(sqlite_url: str) -> str:
    await upgrade(sqlite_url)
    return sqlite_url


@pytest.fixture(scope="session", params=BACKENDS)
async def engine(
    request: pytest.FixtureRequest, migrated_database_url: str, migrated_sqlite_url: str
) -> AsyncIterator[AsyncEngine]:
    """A migrated engine per backend; tests isolate their data with random ids."""
    url = migrated_database_url if request.param == "postgresql" else migrated_sqlite_url
    created = create_engine(url, pool_size=5)
    try:
        yield created
    finally:
        await created.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture(scope="session")
def uow_factory(sessionmaker: async_sessionmaker[AsyncSession]) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(sessionmaker)


@pytest.fixture
async def fresh_postgres_url(services: TestServices) -> AsyncIterator[str]:
    """An empty PostgreSQL database of the test's own, for tests that migrate down or need
    a table nobody else writes to."""
    url = await create_database(services.admin_database_url)
    try:
        yield url
    finally:
        await drop_database(services.admin_database_url, url)


@pytest.fixture
def fresh_sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
