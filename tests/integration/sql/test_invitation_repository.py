"""Invitation repository: round-trips, per-tenant queries and the cascade from its tenant."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from adapters.sql.uow import SqlUnitOfWorkFactory
from domain.errors import AlreadyExists, NotFound
from domain.tenancy.models import Role, Tenant
from tests.integration.sql.factories import make_invitation, make_tenant, utc_now


async def add_tenants(uow_factory: SqlUnitOfWorkFactory, *tenants: Tenant) -> None:
    async with uow_factory() as uow:
        for tenant in tenants:
            await uow.tenants.add(tenant)
        await uow.commit()


async def test_invitation_round_trips_by_token_hash(uow_factory: SqlUnitOfWorkFactory) -> None:
    tenant = make_tenant()
    invitation = make_invitation(tenant.id, role=Role.ADMIN, invited_by="")
    await add_tenants(uow_factory, tenant)
    async with uow_factory() as uow:
        await uow.invitations.add(invitation)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.invitations.get_by_token_hash(invitation.token_hash) == invitation
        assert await uow.invitations.get_by_token_hash("no-such-hash") is None


async def test_revoking_is_stored_by_update(uow_factory: SqlUnitOfWorkFactory) -> None:
    tenant = make_tenant()
    revoked = make_invitation(tenant.id)
    await add_tenants(uow_factory, tenant)
    async with uow_factory() as uow:
        await uow.invitations.add(revoked)
        await uow.commit()

    revoked.revoke(utc_now())
    async with uow_factory() as uow:
        await uow.invitations.update(revoked)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.invitations.get_by_token_hash(revoked.token_hash) == revoked


async def test_accept_wins_only_while_pending(uow_factory: SqlUnitOfWorkFactory) -> None:
    tenant = make_tenant()
    pending, revoked, expired = (make_invitation(tenant.id) for _ in range(3))
    now = utc_now()
    revoked.revoke(now)
    expired = replace(expired, expires_at=now - timedelta(seconds=1))
    await add_tenants(uow_factory, tenant)
    async with uow_factory() as uow:
        for invitation in (pending, revoked, expired):
            await uow.invitations.add(invitation)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.invitations.accept(pending.id, now) is True
        assert await uow.invitations.accept(pending.id, now) is False  # used once
        assert await uow.invitations.accept(revoked.id, now) is False
        assert await uow.invitations.accept(expired.id, now) is False
        assert await uow.invitations.accept("no-such-invitation", now) is False
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.invitations.get_by_token_hash(pending.token_hash)
        assert stored is not None
        assert stored.accepted_at == now
        untouched = await uow.invitations.get_by_token_hash(expired.token_hash)
        assert untouched is not None
        assert untouched.accepted_at is None


async def test_updating_a_missing_invitation_raises_not_found(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    tenant, other = make_tenant(), make_tenant()
    invitation = make_invitation(tenant.id)
    await add_tenants(uow_factory, tenant, other)
    async with uow_factory() as uow:
        await uow.invitations.add(invitation)
        await uow.commit()

    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.invitations.update(make_invitation(tenant.id))
        # Claiming another tenant does not reach the row either.
        with pytest.raises(NotFound):
            await uow.invitations.update(replace(invitation, tenant_id=other.id))


async def test_a_taken_token_hash_raises_already_exists(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    tenant = make_tenant()
    invitation = make_invitation(tenant.id)
    await add_tenants(uow_factory, tenant)
    async with uow_factory() as uow:
        await uow.invitations.add(invitation)
        await uow.commit()

    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.invitations.add(make_invitation(tenant.id, token_hash=invitation.token_hash))


async def test_pending_invitations_are_listed_per_tenant_and_email(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    ours, theirs = make_tenant(), make_tenant()
    email = "guest@example.com"
    now = utc_now()
    first = make_invitation(ours.id, email=email, created_at=now - timedelta(minutes=2))
    expired = make_invitation(
        ours.id, email=email, created_at=now - timedelta(days=8), expires_at=now
    )
    accepted = make_invitation(ours.id, email=email, accepted_at=now)
    revoked = make_invitation(ours.id, email=email, revoked_at=now)
    someone_else = make_invitation(ours.id)
    in_theirs = make_invitation(theirs.id, email=email)
    await add_tenants(uow_factory, ours, theirs)
    async with uow_factory() as uow:
        for invitation in (first, expired, accepted, revoked, someone_else, in_theirs):
            await uow.invitations.add(invitation)
        await uow.commit()

    async with uow_factory() as uow:
        pending = await uow.invitations.list_pending_for_email(ours.id, email)
        in_ours = await uow.invitations.list_for_tenant(ours.id)

    assert [i.id for i in pending] == [expired.id, first.id]
    assert {i.id for i in in_ours} == {
        first.id,
        expired.id,
        accepted.id,
        revoked.id,
        someone_else.id,
    }


async def test_deleting_a_tenant_deletes_its_invitations_only(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    doomed, kept = make_tenant(), make_tenant()
    gone, stays = make_invitation(doomed.id), make_invitation(kept.id)
    await add_tenants(uow_factory, doomed, kept)
    async with uow_factory() as uow:
        await uow.invitations.add(gone)
        await uow.invitations.add(stays)
        await uow.commit()

    async with uow_factory() as uow:
        await uow.tenants.delete(doomed.id)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.invitations.get_by_token_hash(gone.token_hash) is None
        assert await uow.invitations.list_for_tenant(doomed.id) == []
        assert await uow.invitations.get_by_token_hash(stays.token_hash) == stays
