"""Migration 0004 creates the agents tables and goes down and up again cleanly."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from adapters.sql.engine import create_engine
from adapters.sql.migrate import downgrade, upgrade
from tests.integration.sql.conftest import BACKENDS
from tests.integration.sql.test_migrations import AGENT_TABLES, schema_differences, table_names


@pytest.fixture(params=BACKENDS)
def fresh_url(
    request: pytest.FixtureRequest, fresh_postgres_url: str, fresh_sqlite_url: str
) -> str:
    return fresh_postgres_url if request.param == "postgresql" else fresh_sqlite_url


async def lead_indexes(url: str) -> dict[str, bool]:
    """Index name → unique, of the leads table."""

    def read(connection: Connection) -> dict[str, bool]:
        indexes = inspect(connection).get_indexes("agent_leads")
        return {str(index["name"]): bool(index["unique"]) for index in indexes}

    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await engine.dispose()


async def test_downgrading_agents_drops_only_its_tables_and_upgrading_restores_them(
    fresh_url: str,
) -> None:
    await upgrade(fresh_url, "0004_agents")
    with_agents = await table_names(fresh_url)
    assert with_agents >= AGENT_TABLES

    await downgrade(fresh_url, "0003_billing")
    assert await table_names(fresh_url) == with_agents - AGENT_TABLES

    await upgrade(fresh_url)
    assert await table_names(fresh_url) >= AGENT_TABLES
    assert await schema_differences(fresh_url) == []


async def test_leads_are_unique_per_email_and_phone_by_partial_indexes(fresh_url: str) -> None:
    await upgrade(fresh_url, "0004_agents")
    assert await lead_indexes(fresh_url) == {
        "uq_agent_leads_tenant_id_agent_id_email": True,
        "uq_agent_leads_tenant_id_agent_id_phone": True,
        "ix_agent_leads_tenant_id_agent_id_created_at": False,
    }
