"""The account read model reads committed users, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.identity.reader import SqlAccountReader
from adapters.sql.uow import SqlUnitOfWorkFactory
from application.identity.ports import AccountView
from tests.fakes.factories import make_user


async def test_reads_a_committed_user_without_its_password_hash(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    user = make_user(
        password_hash="argon2-hash",
        auth_providers=["password"],
        timezone="Europe/Madrid",
        created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()

    account = await SqlAccountReader(engine).account(user.id)

    assert account == AccountView.of(user)
    assert account is not None
    assert account.created_at.tzinfo is not None
    assert not hasattr(account, "password_hash")


async def test_unknown_or_uncommitted_user_reads_as_none(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    user = make_user()
    async with uow_factory() as uow:
        await uow.users.add(user)  # never committed
    reader = SqlAccountReader(engine)
    assert await reader.account(user.id) is None
    assert await reader.account("no-such-user") is None
