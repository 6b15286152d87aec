"""The in-memory unit of work behaves like a database transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.memory.uow import InMemoryStore, InMemoryUnitOfWorkFactory
from application.common.ports import OutgoingEmail
from domain.errors import AlreadyExists
from domain.tenancy.models import Role
from tests.fakes.clock import DEFAULT_START
from tests.fakes.factories import make_membership, make_session, make_tenant, make_user


def make_factory() -> InMemoryUnitOfWorkFactory:
    return InMemoryUnitOfWorkFactory(InMemoryStore())


async def test_changes_are_invisible_to_others_until_commit() -> None:
    factory = make_factory()
    user = make_user()
    async with factory() as writer:
        await writer.users.add(user)
        async with factory() as reader:
            assert await reader.users.get(user.id) is None
        assert await writer.users.get(user.id) == user
        await writer.commit()
    async with factory() as reader:
        assert await reader.users.get(user.id) == user


async def test_leaving_without_commit_rolls_back() -> None:
    factory = make_factory()
    async with factory() as uow:
        await uow.users.add(make_user())
    assert factory.store.users == {}


async def test_an_exception_rolls_back() -> None:
    factory = make_factory()

    async def add_then_fail() -> None:
        async with factory() as uow:
            await uow.users.add(make_user())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await add_then_fail()
    assert factory.store.users == {}


async def test_email_is_queued_only_on_commit() -> None:
    factory = make_factory()
    email = OutgoingEmail(to="ann@example.com", subject="hi", text="code 123456")
    async with factory() as uow:
        await uow.outbox.add(email)
    assert factory.store.outbox == []
    async with factory() as uow:
        await uow.outbox.add(email)
        await uow.commit()
    assert factory.store.outbox == [email]


async def test_entities_read_are_copies_until_updated() -> None:
    factory = make_factory()
    user = make_user(name="Ann")
    async with factory() as uow:
        await uow.users.add(user)
        await uow.commit()
    async with factory() as uow:
        loaded = await uow.users.get(user.id)
        assert loaded is not None
        loaded.rename("Bob", DEFAULT_START)
        await uow.commit()
    assert factory.store.users[user.id].name == "Ann"


async def test_duplicate_email_is_refused_on_add() -> None:
    factory = make_factory()
    async with factory() as uow:
        await uow.users.add(make_user(email="ann@example.com"))
        with pytest.raises(AlreadyExists):
            await uow.users.add(make_user(email="ann@example.com"))


async def test_duplicate_email_from_a_concurrent_transaction_is_refused_on_commit() -> None:
    factory = make_factory()
    first, second = factory(), factory()
    async with first, second:
        await first.users.add(make_user(email="ann@example.com"))
        await second.users.add(make_user(email="ann@example.com"))
        await first.commit()
        with pytest.raises(AlreadyExists):
            await second.commit()
    assert len(factory.store.users) == 1


async def test_deleting_a_user_removes_their_sessions_and_memberships() -> None:
    factory = make_factory()
    user, other = make_user(), make_user()
    tenant = make_tenant()
    async with factory() as uow:
        for u in (user, other):
            await uow.users.add(u)
        await uow.tenants.add(tenant)
        await uow.memberships.add(make_membership(tenant_id=tenant.id, user_id=user.id))
        await uow.memberships.add(make_membership(tenant_id=tenant.id, user_id=other.id))
        await uow.sessions.add(make_session(user_id=user.id))
        await uow.sessions.add(make_session(user_id=other.id))
        await uow.commit()
    async with factory() as uow:
        await uow.users.delete(user.id)
        assert await uow.memberships.list_for_user(user.id) == []
        await uow.commit()
    assert {s.user_id for s in factory.store.sessions.values()} == {other.id}
    assert {m.user_id for m in factory.store.memberships.values()} == {other.id}


async def test_deleting_a_tenant_removes_its_memberships() -> None:
    factory = make_factory()
    tenant = make_tenant()
    async with factory() as uow:
        await uow.tenants.add(tenant)
        await uow.memberships.add(make_membership(tenant_id=tenant.id, role=Role.OWNER))
        await uow.commit()
    async with factory() as uow:
        await uow.tenants.delete(tenant.id)
        await uow.commit()
    assert factory.store.tenants == {}
    assert factory.store.memberships == {}


async def test_revoke_all_for_user_spares_the_excepted_and_already_revoked_sessions() -> None:
    factory = make_factory()
    user_id = "u1"
    keep, drop, old = (make_session(user_id=user_id) for _ in range(3))
    old.revoke(DEFAULT_START)
    async with factory() as uow:
        for session in (keep, drop, old):
            await uow.sessions.add(session)
        await uow.sessions.add(make_session(user_id="someone-else"))
        now = DEFAULT_START + timedelta(hours=1)
        revoked = await uow.sessions.revoke_all_for_user(user_id, now, except_id=keep.id)
        await uow.commit()
    assert revoked == [drop.id]
    assert factory.store.sessions[drop.id].revoked_at == now
    assert factory.store.sessions[keep.id].revoked_at is None
    assert factory.store.sessions[old.id].revoked_at == DEFAULT_START


async def test_membership_count_and_listing_follow_pending_changes() -> None:
    factory = make_factory()
    tenant = make_tenant()
    async with factory() as uow:
        await uow.memberships.add(make_membership(tenant_id=tenant.id, user_id="a"))
        await uow.memberships.add(make_membership(tenant_id=tenant.id, user_id="b"))
        await uow.memberships.delete(tenant.id, "a")
        assert await uow.memberships.count_for_tenant(tenant.id) == 1
        assert await uow.memberships.get(tenant.id, "b") is not None
        assert await uow.memberships.get(tenant.id, "a") is None
