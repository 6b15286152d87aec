"""ORM records of tenants and memberships, with explicit domain mappers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from adapters.sql.base import Base
from domain.tenancy.models import Membership, Role, Tenant

_ROLES = ", ".join(f"'{role.value}'" for role in Role)


class TenantRecord(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class MembershipRecord(Base):
    __tablename__ = "memberships"
    __table_args__ = (CheckConstraint(f"role IN ({_ROLES})", name="role"),)

    tenant_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


def tenant_to_domain(record: TenantRecord) -> Tenant:
    return Tenant(
        id=record.id,
        name=record.name,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def tenant_to_record(tenant: Tenant) -> TenantRecord:
    return TenantRecord(
        id=tenant.id,
        name=tenant.name,
        created_at=tenant.created_at,
        updated_at=tenant.updated_at,
    )


def membership_to_domain(record: MembershipRecord) -> Membership:
    return Membership(
        tenant_id=record.tenant_id,
        user_id=record.user_id,
        role=Role(record.role),
        created_at=record.created_at,
    )


def membership_to_record(membership: Membership) -> MembershipRecord:
    return MembershipRecord(
        tenant_id=membership.tenant_id,
        user_id=membership.user_id,
        role=membership.role.value,
        created_at=membership.created_at,
    )
