"""ORM records of tenants, memberships, invitations and API keys, with explicit domain mappers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from adapters.sql.base import Base
from domain.tenancy.models import ApiKey, Invitation, Membership, Role, Tenant

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


class InvitationRecord(Base):
    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint(f"role IN ({_ROLES})", name="role"),
        # Re-inviting looks up the pending invitations of one email in one tenant.
        Index("ix_invitations_tenant_id_email", "tenant_id", "email"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    # A user id or "" (operator): no foreign key, the inviter may leave or be deleted.
    invited_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ApiKeyRecord(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    secret_hash: Mapped[str] = mapped_column(String(255))
    # The key belongs to the tenant and outlives its creator: no foreign key to users.
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


def tenant_to_domain(record: TenantRecord) -> Tenant:
    return Tenant(
        id=record.id,
        name=record.name,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def tenant_to_record(tenant: Tenant, record: TenantRecord | None = None) -> TenantRecord:
    """Copy `tenant` onto `record` (a fresh one when absent)."""
    record = record if record is not None else TenantRecord(id=tenant.id)
    record.name = tenant.name
    record.created_at = tenant.created_at
    record.updated_at = tenant.updated_at
    return record


def membership_to_domain(record: MembershipRecord) -> Membership:
    return Membership(
        tenant_id=record.tenant_id,
        user_id=record.user_id,
        role=Role(record.role),
        created_at=record.created_at,
    )


def membership_to_record(
    membership: Membership, record: MembershipRecord | None = None
) -> MembershipRecord:
    record = (
        record
        if record is not None
        else MembershipRecord(tenant_id=membership.tenant_id, user_id=membership.user_id)
    )
    record.role = membership.role.value
    record.created_at = membership.created_at
    return record


def invitation_to_domain(record: InvitationRecord) -> Invitation:
    return Invitation(
        id=record.id,
        tenant_id=record.tenant_id,
        email=record.email,
        role=Role(record.role),
        token_hash=record.token_hash,
        invited_by=record.invited_by,
        created_at=record.created_at,
        expires_at=record.expires_at,
        accepted_at=record.accepted_at,
        revoked_at=record.revoked_at,
    )


def invitation_to_record(
    invitation: Invitation, record: InvitationRecord | None = None
) -> InvitationRecord:
    record = record if record is not None else InvitationRecord(id=invitation.id)
    record.tenant_id = invitation.tenant_id
    record.email = invitation.email
    record.role = invitation.role.value
    record.token_hash = invitation.token_hash
    record.invited_by = invitation.invited_by
    record.created_at = invitation.created_at
    record.expires_at = invitation.expires_at
    record.accepted_at = invitation.accepted_at
    record.revoked_at = invitation.revoked_at
    return record


def api_key_to_domain(record: ApiKeyRecord) -> ApiKey:
    return ApiKey(
        id=record.id,
        tenant_id=record.tenant_id,
        name=record.name,
        scopes=list(record.scopes),
        secret_hash=record.secret_hash,
        created_by=record.created_by,
        created_at=record.created_at,
        expires_at=record.expires_at,
        last_used_at=record.last_used_at,
    )


def api_key_to_record(key: ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=key.id,
        tenant_id=key.tenant_id,
        name=key.name,
        scopes=list(key.scopes),
        secret_hash=key.secret_hash,
        created_by=key.created_by,
        created_at=key.created_at,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
    )
