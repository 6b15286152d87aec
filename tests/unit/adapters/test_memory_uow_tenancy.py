"""The in-memory unit of work keeps tenants, invitations and API keys like a database would."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from adapters.memory.uow import InMemoryStore, InMemoryUnitOfWorkFactory
from domain.errors import AlreadyExists, NotFound
from domain.tenancy.models import INVITATION_LIFETIME, ApiKey, Invitation, Role
from tests.fakes.clock import DEFAULT_START
from tests.fakes.factories import make_membership, make_tenant, new_id


def make_factory() -> InMemoryUnitOfWorkFactory:
    return InMemoryUnitOfWorkFactory(InMemoryStore())


def make_invitation(tenant_id: str, **overrides: Any) -> Invitation:
    invitation = Invitation(
        id=new_id(),
        tenant_id=tenant_id,
        email=f"guest-{new_id()[:8]}@example.com",
        role=Role.NORMAL,
        token_hash=new_id(),
        invited_by=new_id(),
        created_at=DEFAULT_START,
        expires_at=DEFAULT_START + INVITATION_LIFETIME,
    )
    return replace(invitation, **overrides)


def make_api_key(tenant_id: str, **overrides: Any) -> ApiKey:
    key = ApiKey(
        id=new_id(),
        tenant_id=tenant_id,
        name="ci",
        scopes=["tenant:read"],
        secret_hash=new_id(),
        created_by=new_id(),
        created_at=DEFAULT_START,
    )
    return replace(key, **overrides)


async def test_tenant_and_membership_updates_are_pending_until_commit() -> None:
    factory = make_factory()
    tenant = make_tenant()
    member = make_membership(tenant_id=tenant.id, role=Role.NORMAL)
    async with factory() as uow:
        await uow.tenants.add(tenant)
        await uow.memberships.add(member)
        await uow.commit()

    async with factory() as uow:
        await uow.tenants.update(replace(tenant, name="Renamed"))
        await uow.memberships.update(replace(member, role=Role.ADMIN))
        async with factory() as reader:
            assert (await reader.tenants.get(tenant.id)) == tenant
            assert (await reader.memberships.get(tenant.id, member.user_id)) == member
        await uow.commit()

    async with factory() as uow:
        renamed = await uow.tenants.get(tenant.id)
        promoted = await uow.memberships.get(tenant.id, member.user_id)
    assert renamed is not None
    assert renamed.name == "Renamed"
    assert promoted is not None
    assert promoted.role == Role.ADMIN


async def test_updating_what_does_not_exist_raises_not_found_and_adds_nothing() -> None:
    factory = make_factory()
    tenant = make_tenant()
    invitation = make_invitation(tenant.id)
    async with factory() as uow:
        await uow.invitations.add(invitation)
        await uow.commit()
    async with factory() as uow:
        with pytest.raises(NotFound):
            await uow.tenants.update(make_tenant())
        with pytest.raises(NotFound):
            await uow.memberships.update(make_membership())
        with pytest.raises(NotFound):
            await uow.invitations.update(make_invitation(tenant.id))
        with pytest.raises(NotFound):
            await uow.invitations.update(replace(invitation, tenant_id=new_id()))
        await uow.commit()
    assert factory.store.tenants == {}
    assert factory.store.memberships == {}
    assert factory.store.invitations == {invitation.id: invitation}


async def test_invitations_are_found_by_token_and_listed_per_tenant() -> None:
    factory = make_factory()
    ours, theirs = make_tenant(), make_tenant()
    first = make_invitation(ours.id, email="ann@example.com")
    later = make_invitation(
        ours.id, email="ann@example.com", created_at=DEFAULT_START + timedelta(minutes=1)
    )
    accepted = make_invitation(ours.id, email="ann@example.com", accepted_at=DEFAULT_START)
    revoked = make_invitation(ours.id, email="ann@example.com", revoked_at=DEFAULT_START)
    elsewhere = make_invitation(theirs.id, email="ann@example.com")
    async with factory() as uow:
        for invitation in (later, first, accepted, revoked, elsewhere):
            await uow.invitations.add(invitation)
        await uow.commit()

    async with factory() as uow:
        assert await uow.invitations.get_by_token_hash(first.token_hash) == first
        assert await uow.invitations.get_by_token_hash("unknown") is None
        pending = await uow.invitations.list_pending_for_email(ours.id, "ann@example.com")
        listed = await uow.invitations.list_for_tenant(ours.id)
    assert [i.id for i in pending] == [first.id, later.id]
    assert {i.id for i in listed} == {first.id, later.id, accepted.id, revoked.id}


async def test_an_invitation_with_a_taken_token_hash_is_refused() -> None:
    factory = make_factory()
    invitation = make_invitation(new_id())
    async with factory() as uow:
        await uow.invitations.add(invitation)
        with pytest.raises(AlreadyExists):
            await uow.invitations.add(make_invitation(new_id(), token_hash=invitation.token_hash))


async def test_an_invitation_changed_without_update_is_not_stored() -> None:
    factory = make_factory()
    invitation = make_invitation(new_id())
    async with factory() as uow:
        await uow.invitations.add(invitation)
        await uow.commit()
    async with factory() as uow:
        found = await uow.invitations.get_by_token_hash(invitation.token_hash)
        assert found is not None
        found.revoke(DEFAULT_START)
        await uow.commit()
    assert factory.store.invitations[invitation.id].revoked_at is None


async def test_api_keys_of_another_tenant_are_invisible_to_tenant_queries() -> None:
    factory = make_factory()
    ours, theirs = make_tenant(), make_tenant()
    key = make_api_key(ours.id)
    async with factory() as uow:
        await uow.api_keys.add(key)
        await uow.api_keys.add(make_api_key(theirs.id))
        await uow.commit()

    async with factory() as uow:
        assert await uow.api_keys.get(key.id) == key
        assert await uow.api_keys.get_for_tenant(ours.id, key.id) == key
        assert await uow.api_keys.get_for_tenant(theirs.id, key.id) is None
        assert [k.id for k in await uow.api_keys.list_for_tenant(ours.id)] == [key.id]
        assert await uow.api_keys.delete(theirs.id, key.id) is False
        await uow.commit()
    assert key.id in factory.store.api_keys


async def test_deleting_an_api_key_reports_whether_it_existed() -> None:
    factory = make_factory()
    key = make_api_key(new_id())
    async with factory() as uow:
        await uow.api_keys.add(key)
        await uow.commit()
    async with factory() as uow:
        assert await uow.api_keys.delete(key.tenant_id, key.id) is True
        assert await uow.api_keys.delete(key.tenant_id, key.id) is False
        await uow.commit()
    assert factory.store.api_keys == {}


async def test_touch_records_last_use_on_commit() -> None:
    factory = make_factory()
    key = make_api_key(new_id())
    used_at = DEFAULT_START + timedelta(hours=1)
    async with factory() as uow:
        await uow.api_keys.add(key)
        await uow.commit()
    async with factory() as uow:
        await uow.api_keys.touch(key.id, used_at)
        assert factory.store.api_keys[key.id].last_used_at is None
        await uow.commit()
    assert factory.store.api_keys[key.id].last_used_at == used_at


async def test_deleting_a_tenant_deletes_its_invitations_and_api_keys() -> None:
    factory = make_factory()
    doomed, kept = make_tenant(), make_tenant()
    kept_key, kept_invitation = make_api_key(kept.id), make_invitation(kept.id)
    async with factory() as uow:
        await uow.tenants.add(doomed)
        await uow.tenants.add(kept)
        await uow.invitations.add(make_invitation(doomed.id))
        await uow.api_keys.add(make_api_key(doomed.id))
        await uow.invitations.add(kept_invitation)
        await uow.api_keys.add(kept_key)
        await uow.commit()

    async with factory() as uow:
        await uow.tenants.delete(doomed.id)
        assert await uow.api_keys.list_for_tenant(doomed.id) == []
        assert await uow.invitations.list_for_tenant(doomed.id) == []
        await uow.commit()

    assert set(factory.store.api_keys) == {kept_key.id}
    assert set(factory.store.invitations) == {kept_invitation.id}


async def test_rows_another_transaction_adds_to_a_deleted_tenant_go_too() -> None:
    factory = make_factory()
    tenant = make_tenant()
    async with factory() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()

    async with factory() as deleter, factory() as inviter:
        await deleter.tenants.delete(tenant.id)
        await inviter.invitations.add(make_invitation(tenant.id))
        await inviter.api_keys.add(make_api_key(tenant.id))
        await inviter.commit()
        await deleter.commit()

    assert factory.store.invitations == {}
    assert factory.store.api_keys == {}
