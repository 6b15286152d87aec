"""SQL implementations of the tenancy repositories, bound to one unit-of-work session."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.errors import translate_unavailable
from adapters.sql.tenancy.records import (
    MembershipRecord,
    TenantRecord,
    membership_to_domain,
    membership_to_record,
    tenant_to_domain,
    tenant_to_record,
)
from application.tenancy.ports import MembershipRepository, TenantRepository
from domain.errors import AlreadyExists
from domain.tenancy.models import Membership, Tenant

# How PostgreSQL ("pk_memberships") and SQLite (column list) name the violated primary key.
_MEMBERSHIP_KEY_MARKERS = ("pk_memberships", "memberships.tenant_id, memberships.user_id")


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
    async def delete(self, tenant_id: str) -> None:
        # Memberships go with the tenant through ON DELETE CASCADE.
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
    async def delete(self, tenant_id: str, user_id: str) -> None:
        await self._session.execute(
            delete(MembershipRecord).where(
                MembershipRecord.tenant_id == tenant_id, MembershipRecord.user_id == user_id
            )
        )
