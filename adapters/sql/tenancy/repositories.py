"""SQL implementations of the tenancy repositories, bound to one unit-of-work session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.billing.statements import rowcount
from adapters.sql.errors import translate_unavailable
from adapters.sql.tenancy.records import (
    InvitationRecord,
    MembershipRecord,
    TenantRecord,
    invitation_to_domain,
    invitation_to_record,
    membership_to_domain,
    membership_to_record,
    tenant_to_domain,
    tenant_to_record,
)
from application.tenancy.ports import (
    InvitationRepository,
    MembershipRepository,
    TenantRepository,
)
from domain.errors import AlreadyExists, NotFound
from domain.tenancy.models import Invitation, Membership, Tenant

# How PostgreSQL ("pk_memberships") and SQLite (column list) name the violated primary key.
_MEMBERSHIP_KEY_MARKERS = ("pk_memberships", "memberships.tenant_id, memberships.user_id")
# The same for the invitations' unique token hash.
_INVITATION_TOKEN_MARKERS = ("uq_invitations_token_hash", "invitations.token_hash")


class SqlTenantRepository(TenantRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @translate_unavailable
    async def get(self, tenant_id: str) -> Tenant | None:
        record = await self._session.get(TenantRecord, tenant_id)
        return tenant_to_domain(record) if record is not None else None

    @translate_unavailable
    async def add(self, tenant: Tenant) -> None:
        self._session.add(tenant_to_record(tenant))
        await self._session.flush()

    @translate_unavailable
    async def lock(self, tenant_id: str) -> None:
        """Serialise this unit of work with every other one that locks the tenant, to commit.

        PostgreSQL: the row lock of `FOR UPDATE`. SQLite ignores `FOR UPDATE`, and its reads
        take no lock at all, so two transactions could both read "another owner is left" and
        both write. A write takes SQLite's one write lock at once (waiting up to the busy
        timeout for whoever holds it): a no-op update of the row. Reads made before it ran
        outside any transaction (the driver begins one at the first write), so no stale
        snapshot survives it; callers read what they decide on after locking.
        """
        if self._session.get_bind().dialect.name == "sqlite":
            await self._session.execute(
                update(TenantRecord)
                .where(TenantRecord.id == tenant_id)
                .values(name=TenantRecord.name)
            )
            return
        await self._session.execute(
            select(TenantRecord.id).where(TenantRecord.id == tenant_id).with_for_update()
        )

    @translate_unavailable
    async def update(self, tenant: Tenant) -> None:
        record = await self._session.get(TenantRecord, tenant.id)
        if record is None:
            raise NotFound("tenant not found")
        tenant_to_record(tenant, record)
        await self._session.flush()

    @translate_unavailable
    async def delete(self, tenant_id: str) -> None:
        # Memberships, invitations and API keys go with it through ON DELETE CASCADE.
        await self._session.execute(delete(TenantRecord).where(TenantRecord.id == tenant_id))


class SqlMembershipRepository(MembershipRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @translate_unavailable
    async def add(self, membership: Membership) -> None:
        self._session.add(membership_to_record(membership))
        try:
            await self._session.flush()
        except IntegrityError as error:
            if any(marker in str(error.orig) for marker in _MEMBERSHIP_KEY_MARKERS):
                raise AlreadyExists("already a member of this tenant") from error
            raise

    @translate_unavailable
    async def get(self, tenant_id: str, user_id: str) -> Membership | None:
        record = await self._session.scalar(
            select(MembershipRecord).where(
                MembershipRecord.tenant_id == tenant_id, MembershipRecord.user_id == user_id
            )
        )
        return membership_to_domain(record) if record is not None else None

    @translate_unavailable
    async def list_for_user(self, user_id: str) -> list[Membership]:
        records = await self._session.scalars(
            select(MembershipRecord)
            .where(MembershipRecord.user_id == user_id)
            .order_by(MembershipRecord.created_at, MembershipRecord.tenant_id)
        )
        return [membership_to_domain(record) for record in records]

    @translate_unavailable
    async def list_for_tenant(self, tenant_id: str) -> list[Membership]:
        records = await self._session.scalars(
            select(MembershipRecord)
            .where(MembershipRecord.tenant_id == tenant_id)
            .order_by(MembershipRecord.created_at, MembershipRecord.user_id)
        )
        return [membership_to_domain(record) for record in records]

    @translate_unavailable
    async def count_for_tenant(self, tenant_id: str) -> int:
        count = await self._session.scalar(
            select(func.count())
            .select_from(MembershipRecord)
            .where(MembershipRecord.tenant_id == tenant_id)
        )
        return int(count or 0)

    @translate_unavailable
    async def update(self, membership: Membership) -> None:
        record = await self._session.get(
            MembershipRecord, (membership.tenant_id, membership.user_id)
        )
        if record is None:
            raise NotFound("member not found")
        membership_to_record(membership, record)
        await self._session.flush()

    @translate_unavailable
    async def delete(self, tenant_id: str, user_id: str) -> None:
        await self._session.execute(
            delete(MembershipRecord).where(
                MembershipRecord.tenant_id == tenant_id, MembershipRecord.user_id == user_id
            )
        )


class SqlInvitationRepository(InvitationRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @translate_unavailable
    async def add(self, invitation: Invitation) -> None:
        self._session.add(invitation_to_record(invitation))
        try:
            await self._session.flush()
        except IntegrityError as error:
            if any(marker in str(error.orig) for marker in _INVITATION_TOKEN_MARKERS):
                raise AlreadyExists("invitation already exists") from error
            raise

    @translate_unavailable
    async def update(self, invitation: Invitation) -> None:
        record = await self._session.scalar(
            select(InvitationRecord).where(
                InvitationRecord.tenant_id == invitation.tenant_id,
                InvitationRecord.id == invitation.id,
            )
        )
        if record is None:
            raise NotFound("invitation not found")
        invitation_to_record(invitation, record)
        await self._session.flush()

    @translate_unavailable
    async def get_by_token_hash(self, token_hash: str) -> Invitation | None:
        # The token is the credential here: whoever holds it learns its tenant from the row.
        record = await self._session.scalar(
            select(InvitationRecord).where(InvitationRecord.token_hash == token_hash)
        )
        return invitation_to_domain(record) if record is not None else None

    @translate_unavailable
    async def accept(self, invitation_id: str, now: datetime) -> bool:
        result = await self._session.execute(
            update(InvitationRecord)
            .where(
                InvitationRecord.id == invitation_id,
                InvitationRecord.accepted_at.is_(None),
                InvitationRecord.revoked_at.is_(None),
                InvitationRecord.expires_at > now,
            )
            .values(accepted_at=now)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1

    @translate_unavailable
    async def list_pending_for_email(self, tenant_id: str, email: str) -> list[Invitation]:
        records = await self._session.scalars(
            select(InvitationRecord)
            .where(
                InvitationRecord.tenant_id == tenant_id,
                InvitationRecord.email == email,
                InvitationRecord.accepted_at.is_(None),
                InvitationRecord.revoked_at.is_(None),
            )
            .order_by(InvitationRecord.created_at, InvitationRecord.id)
        )
        return [invitation_to_domain(record) for record in records]

    @translate_unavailable
    async def list_for_tenant(self, tenant_id: str) -> list[Invitation]:
        records = await self._session.scalars(
            select(InvitationRecord)
            .where(InvitationRecord.tenant_id == tenant_id)
            .order_by(InvitationRecord.created_at, InvitationRecord.id)
        )
        return [invitation_to_domain(record) for record in records]
