"""Migrations go up and down cleanly and produce exactly the schema the records describe."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import create_engine
from adapters.sql.migrate import MIGRATION_LOCK, downgrade, upgrade
from adapters.sql.tables import metadata
from tests.integration.sql.conftest import BACKENDS
from tests.support.waiting import eventually

# A deadline for the replica processes (start, queue up, migrate one after the other): they
# normally need a few seconds; only a broken run waits this long.
REPLICAS_WITHIN_SECONDS = 120.0
TENANCY_TABLES = {"invitations", "api_keys"}
BILLING_TABLES = {
    "subscription_plans",
    "subscriptions",
    "credit_grants",
    "credit_reservations",
    "payment_events",
    "local_checkouts",
}
AGENT_TABLES = {"agents", "agent_config_versions", "agent_intentions", "agent_leads"}
CHAT_TABLES = {"chat_conversations", "chat_messages"}
OAUTH_TABLES = {"oauth_links", "login_codes", "oauth_attempts", "wati_links"}
TABLES = {
    "users",
    "sessions",
    "challenges",
    "tenants",
    "memberships",
    "email_outbox",
    *TENANCY_TABLES,
    *BILLING_TABLES,
    *AGENT_TABLES,
    *CHAT_TABLES,
    *OAUTH_TABLES,
}


@pytest.fixture(params=BACKENDS)
def fresh_url(
    request: pytest.FixtureRequest, fresh_postgres_url: str, fresh_sqlite_url: str
) -> str:
    """A database of the test's own, so migrating down never touches the shared one."""
    return fresh_postgres_url if request.param == "postgresql" else fresh_sqlite_url


async def table_names(url: str) -> set[str]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    return set(names) - {"alembic_version"}


async def schema_differences(url: str) -> list[Any]:
    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(compare)
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_to_base_and_upgrade_again(fresh_url: str) -> None:
    await upgrade(fresh_url)
    assert await table_names(fresh_url) == TABLES

    await downgrade(fresh_url, "base")
    assert await table_names(fresh_url) == set()

    await upgrade(fresh_url)
    assert await table_names(fresh_url) == TABLES


async def test_downgrading_tenancy_drops_only_invitations_and_api_keys(fresh_url: str) -> None:
    await upgrade(fresh_url, "0002_tenancy")
    await downgrade(fresh_url, "0001_initial")
    assert await table_names(fresh_url) == (
        TABLES - TENANCY_TABLES - BILLING_TABLES - AGENT_TABLES - CHAT_TABLES - OAUTH_TABLES
    )

    await upgrade(fresh_url)
    assert await schema_differences(fresh_url) == []


async def test_upgrade_twice_is_a_no_op(fresh_url: str) -> None:
    await upgrade(fresh_url)
    await upgrade(fresh_url, "head")
    assert await table_names(fresh_url) == TABLES


async def test_migrated_schema_matches_the_records_metadata(fresh_url: str) -> None:
    await upgrade(fresh_url)
    assert await schema_differences(fresh_url) == []


async def test_an_empty_database_differs_from_the_metadata(fresh_url: str) -> None:
    # Guards the comparison above: it must be able to see a difference at all.
    differences = await schema_differences(fresh_url)
    added = {diff[1].name for diff in differences if diff[0] == "add_table"}
    assert added == TABLES


async def test_replicas_starting_together_take_turns_and_all_succeed(
    fresh_postgres_url: str,
) -> None:
    engine = create_engine(fresh_postgres_url, pool_size=2)
    replicas: list[asyncio.subprocess.Process] = []
    try:
        async with engine.connect() as holder:
            # Hold the migration lock so every replica must queue up behind it.
            await holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            replicas += [await start_replica_upgrade(fresh_postgres_url) for _ in range(3)]
            await wait_for_lock_waiters(engine, replicas)
            await holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
            await holder.commit()
        results = await asyncio.wait_for(
            asyncio.gather(*(replica.communicate() for replica in replicas)),
            REPLICAS_WITHIN_SECONDS,
        )
    finally:
        # A failed test must not leave replicas behind (they would wait for the lock forever
        # if the holder's connection outlived the test).
        for replica in replicas:
            if replica.returncode is None:
                replica.kill()
                await replica.wait()
        await engine.dispose()

    assert [replica.returncode for replica in replicas] == [0, 0, 0], results
    assert await table_names(fresh_postgres_url) == TABLES


async def start_replica_upgrade(url: str) -> asyncio.subprocess.Process:
    # A process per replica, as in production (Alembic's context is process-global).
    script = (
        "import asyncio, sys; from adapters.sql.migrate import upgrade; "
        "asyncio.run(upgrade(sys.argv[1]))"
    )
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, url, stderr=asyncio.subprocess.PIPE
    )


async def wait_for_lock_waiters(
    engine: AsyncEngine, replicas: list[asyncio.subprocess.Process]
) -> None:
    """Return once every replica waits for the migration lock (seen in pg_locks).

    No window: starting three Pythons that import SQLAlchemy and Alembic takes anything from
    one to many seconds on two busy cores, so this polls until they are there, failing at once
    if one exits instead (with its stderr) and only after a generous deadline otherwise.
    """

    async def all_waiting() -> bool:
        for replica in replicas:
            if replica.returncode is not None:
                _, stderr = await replica.communicate()
                raise AssertionError(
                    f"a replica exited ({replica.returncode}) before it waited for the lock: "
                    f"{stderr.decode(errors='replace')[-2000:]}"
                )
        async with engine.connect() as connection:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND NOT granted AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            )
        return bool(waiting == len(replicas))

    await eventually(
        all_waiting,
        f"{len(replicas)} replicas waiting for the migration lock",
        REPLICAS_WITHIN_SECONDS,
        every=0.05,
    )
