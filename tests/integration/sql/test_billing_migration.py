"""Migration 0003 creates the billing tables and seeds each default plan exactly once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.migrate import alembic_config, downgrade, upgrade
from adapters.sql.uow import SqlUnitOfWorkFactory
from domain.billing.plans import default_plans
from tests.integration.sql.conftest import BACKENDS
from tests.integration.sql.test_migrations import (
    AGENT_TABLES,
    BILLING_TABLES,
    CHAT_TABLES,
    OAUTH_TABLES,
    TABLES,
    schema_differences,
    table_names,
)

DEFAULT_NAMES = sorted(plan.plan_name for plan in default_plans(datetime.now(UTC)))


@pytest.fixture(params=BACKENDS)
def fresh_url(
    request: pytest.FixtureRequest, fresh_postgres_url: str, fresh_sqlite_url: str
) -> str:
    return fresh_postgres_url if request.param == "postgresql" else fresh_sqlite_url


async def plan_rows(url: str) -> list[tuple[str, str]]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT plan_name, description FROM subscription_plans ORDER BY plan_name")
            )
            return [(row.plan_name, row.description) for row in rows]
    finally:
        await engine.dispose()


async def run_on(url: str, statement: str) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def run_seed_again(url: str) -> None:
    """Call the revision's own seed step on a database already at head."""
    script = ScriptDirectory.from_config(alembic_config()).get_revision("0003_billing")
    assert script is not None
    seed = cast(Callable[[Connection], None], script.module.seed_default_plans)
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(seed)
    finally:
        await engine.dispose()


async def test_upgrading_twice_leaves_exactly_one_row_per_default_plan(fresh_url: str) -> None:
    await upgrade(fresh_url)
    await upgrade(fresh_url)

    assert [name for name, _ in await plan_rows(fresh_url)] == DEFAULT_NAMES


async def test_seeded_plans_read_back_as_the_domain_defines_them(fresh_url: str) -> None:
    await upgrade(fresh_url)
    engine = create_engine(fresh_url, pool_size=1)
    try:
        async with SqlUnitOfWorkFactory(create_sessionmaker(engine))() as uow:
            stored = await uow.plans.list()
    finally:
        await engine.dispose()

    def terms(plan: Any) -> tuple[Any, ...]:
        return (plan.plan_name, plan.description, plan.usage_configs, plan.credit_extension_days)

    expected = sorted(default_plans(datetime.now(UTC)), key=lambda plan: plan.plan_name)
    assert [terms(plan) for plan in stored] == [terms(plan) for plan in expected]


async def test_seeding_again_adds_only_missing_plans_and_keeps_edited_ones(
    fresh_url: str,
) -> None:
    await upgrade(fresh_url)
    await run_on(
        fresh_url, "UPDATE subscription_plans SET description = 'ours' WHERE plan_name = 'PRO'"
    )
    await run_on(fresh_url, "DELETE FROM subscription_plans WHERE plan_name = 'FREE'")

    await run_seed_again(fresh_url)
    await run_seed_again(fresh_url)

    rows = dict(await plan_rows(fresh_url))
    assert sorted(rows) == DEFAULT_NAMES
    assert rows["PRO"] == "ours"


async def test_downgrading_billing_drops_only_its_tables_and_upgrading_restores_them(
    fresh_url: str,
) -> None:
    await upgrade(fresh_url)
    await downgrade(fresh_url, "0002_tenancy")
    assert await table_names(fresh_url) == (
        TABLES - BILLING_TABLES - AGENT_TABLES - CHAT_TABLES - OAUTH_TABLES
    )

    await upgrade(fresh_url)
    assert await schema_differences(fresh_url) == []
    assert [name for name, _ in await plan_rows(fresh_url)] == DEFAULT_NAMES


async def test_0007_keys_month_grants_by_their_start_only(fresh_url: str) -> None:
    await upgrade(fresh_url, "0006_hold_deadlines")
    start = "2026-11-02T00:00:00+00:00"
    await run_on(
        fresh_url,
        "INSERT INTO tenants (id, name, created_at, updated_at) "
        "VALUES ('t-rekey', 'Team', '2026-11-01 00:00:00+00', '2026-11-01 00:00:00+00')",
    )
    for grant_id, key in (("g1", f"period:FREE:{start}"), ("g2", "trial:t-rekey")):
        await run_on(
            fresh_url,
            "INSERT INTO credit_grants (id, tenant_id, source, amount, remaining, starts_at, "
            "expires_at, grant_key, created_at) VALUES "
            f"('{grant_id}', 't-rekey', 'PERIOD', 100, 100, '2026-11-02 00:00:00+00', "
            f"'2026-12-02 00:00:00+00', '{key}', '2026-11-02 00:00:00+00')",
        )

    await upgrade(fresh_url)

    engine = create_engine(fresh_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT id, grant_key FROM credit_grants"))
            keys = {str(grant_id): str(key) for grant_id, key in rows}
    finally:
        await engine.dispose()
    # The same key the schedule now asks for, so the month is not granted again.
    assert keys == {"g1": f"period:{start}", "g2": "trial:t-rekey"}
