"""The unit of work commits only when told to, and wakes the email relay after outbox commits."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.uow import SqlUnitOfWorkFactory
from application.common.ports import OutgoingEmail
from domain.errors import Unavailable
from tests.integration.sql.factories import make_tenant, make_user


async def test_changes_are_rolled_back_unless_committed(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    user = make_user()
    async with uow_factory() as uow:
        await uow.users.add(user)

    async with uow_factory() as uow:
        assert await uow.users.get(user.id) is None


async def test_changes_are_rolled_back_when_the_block_raises(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    tenant = make_tenant()

    async def add_then_fail() -> None:
        async with uow_factory() as uow:
            await uow.tenants.add(tenant)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await add_then_fail()

    async with uow_factory() as uow:
        assert await uow.tenants.get(tenant.id) is None


async def test_committed_changes_are_kept(uow_factory: SqlUnitOfWorkFactory) -> None:
    user = make_user()
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.users.get(user.id) == user


async def test_work_after_a_commit_is_rolled_back_unless_committed_again(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    first, second = make_tenant(), make_tenant()
    async with uow_factory() as uow:
        await uow.tenants.add(first)
        await uow.commit()
        await uow.tenants.add(second)

    async with uow_factory() as uow:
        assert await uow.tenants.get(first.id) == first
        assert await uow.tenants.get(second.id) is None


async def test_outbox_hook_runs_only_after_committing_queued_emails(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    wake_ups: list[str] = []
    factory = SqlUnitOfWorkFactory(sessionmaker, on_outbox_commit=lambda: wake_ups.append("wake"))
    email = OutgoingEmail(to="ada@example.com", subject="Your code", text="123456")

    async with factory() as uow:
        await uow.outbox.add(email)
    assert wake_ups == []

    async with factory() as uow:
        await uow.tenants.add(make_tenant())
        await uow.commit()
    assert wake_ups == []

    async with factory() as uow:
        await uow.outbox.add(email)
        await uow.commit()
    assert wake_ups == ["wake"]


async def test_a_failing_outbox_hook_does_not_fail_the_committed_work(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    def broken_hook() -> None:
        raise RuntimeError("relay gone")

    factory = SqlUnitOfWorkFactory(sessionmaker, on_outbox_commit=broken_hook)
    tenant = make_tenant()
    async with factory() as uow:
        await uow.tenants.add(tenant)
        await uow.outbox.add(OutgoingEmail(to="a@example.com", subject="s", text="t"))
        await uow.commit()

    async with factory() as uow:
        assert await uow.tenants.get(tenant.id) == tenant


async def test_an_unreachable_database_raises_unavailable() -> None:
    # Port 1 on loopback refuses connections at once.
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/astra", pool_size=1)
    factory = SqlUnitOfWorkFactory(create_sessionmaker(engine))
    try:
        with pytest.raises(Unavailable, match="database unavailable"):
            async with factory() as uow:
                await uow.users.get("anyone")
    finally:
        await engine.dispose()


async def test_an_unopenable_sqlite_file_raises_unavailable(tmp_path: Path) -> None:
    # A folder where the database file should be: SQLite cannot open it.
    (tmp_path / "astra.db").mkdir()
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'astra.db'}")
    factory = SqlUnitOfWorkFactory(create_sessionmaker(engine))
    try:
        with pytest.raises(Unavailable):
            async with factory() as uow:
                await uow.users.get("anyone")
    finally:
        await engine.dispose()


async def test_committed_user_changes_are_announced_and_rolled_back_ones_are_not(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    announced: list[set[str]] = []
    factory = SqlUnitOfWorkFactory(sessionmaker, on_users_commit=announced.append)
    user = make_user()
    async with factory() as uow:
        await uow.users.add(user)
        await uow.commit()
    user.name = "Renamed"
    async with factory() as uow:
        await uow.users.update(user)  # rolled back: never committed
    assert announced == []
    async with factory() as uow:
        await uow.users.update(user)
        await uow.commit()
    async with factory() as uow:
        await uow.users.delete(user.id)
        await uow.commit()
    assert announced == [{user.id}, {user.id}]


async def test_a_reading_unit_of_work_sees_commits_and_cannot_commit(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    user = make_user()
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()
    async with uow_factory.reading() as reading:
        found = await reading.users.get(user.id)
        assert found is not None
        assert found.email == user.email
        with pytest.raises(RuntimeError, match="cannot commit"):
            await reading.commit()


async def test_a_reading_unit_of_work_runs_no_transaction_on_postgresql(
    migrated_database_url: str,
) -> None:
    """In a transaction block `now()` stands still; without one each statement has its own."""
    engine = create_engine(migrated_database_url, pool_size=1)
    factory = SqlUnitOfWorkFactory(create_sessionmaker(engine))
    clock = text("SELECT now(), pg_sleep(0.002)")
    try:
        async with factory() as uow:
            inside = [(await uow._session.execute(clock)).one()[0] for _ in range(2)]  # type: ignore[union-attr]
        async with factory.reading() as reading:
            alone = [(await reading._session.execute(clock)).one()[0] for _ in range(2)]  # type: ignore[union-attr]
    finally:
        await engine.dispose()
    assert inside[0] == inside[1]
    assert alone[0] < alone[1]
