"""Async engine construction for PostgreSQL (asyncpg) and SQLite (aiosqlite), and readiness."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 5000
# asyncpg waits 60 s for a connection by default; a server that accepts and never answers
# (half-open after a failover) would hold every request that long before the 503.
PREPARED_STATEMENTS_PER_CONNECTION = 1024
POSTGRES_CONNECT_TIMEOUT_SECONDS = 5


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """Build an engine for `url`; nothing connects until the first query."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _create_sqlite_engine(url, echo=echo)
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        # No overflow: connections opened beyond the pool are closed again on return, and under
        # load that churn (a PostgreSQL backend per connect) cost more than waiting for one.
        max_overflow=0,
        pool_timeout=10,
        # Recycle before typical load-balancer/pgbouncer idle cut-offs. No pre-ping: it costs a
        # round trip per checkout (~9% of a read request); a dead connection fails its query,
        # is invalidated by SQLAlchemy, and the request answers 14 so the client retries.
        pool_recycle=1800,
        connect_args={
            "timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS,
            # asyncpg prepares every statement once per connection and keeps it by its text
            # (so the chat turn's and the ledger's run as prepared statements); room for all
            # of the service's distinct statements, so the hot ones are never evicted and
            # prepared again, as SQLAlchemy's default of 100 allows.
            "prepared_statement_cache_size": PREPARED_STATEMENTS_PER_CONNECTION,
        },
        # Parameters are end users' chat text, key hashes, emails: never in an error's text
        # (which reaches the logs).
        hide_parameters=True,
    )


def _create_sqlite_engine(url: str, *, echo: bool) -> AsyncEngine:
    """SQLite, and how its transactions serialise the checks that guard limits and secrets.

    The driver runs reads outside any transaction and opens one at the first write, and a
    write takes SQLite's single write lock at once (waiting up to the busy timeout). So
    whatever a transaction writes, it writes holding the lock until commit, and no snapshot
    taken before the lock can be stale. Every check-then-act in Astra is written for that:
    - either it is a single conditional write whose row count decides (a code attempt,
      single use of a challenge, reset token or invitation, a credit hold), or
    - it takes the lock first with `TenantRepository.lock` (a no-op write on the tenant's
      row, where PostgreSQL uses `FOR UPDATE`) and reads what it decides on after that
      (owner guard, plan limits).
    """
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url,
        echo=echo,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        hide_parameters=True,  # as for PostgreSQL
    )
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # SQLite leaves foreign keys off per connection; cascades and FK checks need them on.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (records are mapped out right away)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def ping(engine: AsyncEngine) -> None:
    """Raise when the database does not answer `SELECT 1`."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
