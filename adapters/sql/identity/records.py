"""ORM records of users, sign-in sessions and challenges, with explicit domain mappers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from adapters.sql.base import Base
from domain.identity.models import Challenge, ChallengePurpose, Session, User

_PURPOSES = ", ".join(f"'{purpose.value}'" for purpose in ChallengePurpose)


class UserRecord(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    avatar_url: Mapped[str] = mapped_column(String(2048))
    timezone: Mapped[str] = mapped_column(String(64))
    is_initialized: Mapped[bool]
    email_verified: Mapped[bool]
    current_tenant_id: Mapped[str] = mapped_column(String(64))
    auth_providers: Mapped[list[str]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SessionRecord(Base):
    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    last_refreshed_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ChallengeRecord(Base):
    __tablename__ = "challenges"
    __table_args__ = (CheckConstraint(f"purpose IN ({_PURPOSES})", name="purpose"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(String(320))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    code_hash: Mapped[str | None] = mapped_column(String(128))
    expires_at: Mapped[datetime]
    attempts: Mapped[int]
    consumed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


def user_to_domain(record: UserRecord) -> User:
    return User(
        id=record.id,
        email=record.email,
        name=record.name,
        created_at=record.created_at,
        updated_at=record.updated_at,
        password_hash=record.password_hash,
        avatar_url=record.avatar_url,
        timezone=record.timezone,
        is_initialized=record.is_initialized,
        email_verified=record.email_verified,
        current_tenant_id=record.current_tenant_id,
        auth_providers=list(record.auth_providers),
    )


def user_to_record(user: User, record: UserRecord | None = None) -> UserRecord:
    """Copy `user` onto `record` (a fresh one when absent)."""
    record = record if record is not None else UserRecord(id=user.id)
    record.email = user.email
    record.name = user.name
    record.password_hash = user.password_hash
    record.avatar_url = user.avatar_url
    record.timezone = user.timezone
    record.is_initialized = user.is_initialized
    record.email_verified = user.email_verified
    record.current_tenant_id = user.current_tenant_id
    # A new list, so the ORM sees a changed value rather than an in-place mutation.
    record.auth_providers = list(user.auth_providers)
    record.created_at = user.created_at
    record.updated_at = user.updated_at
    return record


def session_to_domain(record: SessionRecord) -> Session:
    return Session(
        id=record.id,
        user_id=record.user_id,
        created_at=record.created_at,
        last_refreshed_at=record.last_refreshed_at,
        revoked_at=record.revoked_at,
    )


def session_to_record(session: Session, record: SessionRecord | None = None) -> SessionRecord:
    record = record if record is not None else SessionRecord(id=session.id)
    record.user_id = session.user_id
    record.created_at = session.created_at
    record.last_refreshed_at = session.last_refreshed_at
    record.revoked_at = session.revoked_at
    return record


def challenge_to_domain(record: ChallengeRecord) -> Challenge:
    return Challenge(
        id=record.id,
        purpose=ChallengePurpose(record.purpose),
        email=record.email,
        token_hash=record.token_hash,
        expires_at=record.expires_at,
        created_at=record.created_at,
        code_hash=record.code_hash,
        attempts=record.attempts,
        consumed_at=record.consumed_at,
    )


def challenge_to_record(
    challenge: Challenge, record: ChallengeRecord | None = None
) -> ChallengeRecord:
    record = record if record is not None else ChallengeRecord(id=challenge.id)
    record.purpose = challenge.purpose.value
    record.email = challenge.email
    record.token_hash = challenge.token_hash
    record.code_hash = challenge.code_hash
    record.expires_at = challenge.expires_at
    record.attempts = challenge.attempts
    record.consumed_at = challenge.consumed_at
    record.created_at = challenge.created_at
    return record


class OAuthLinkRecord(Base):
    __tablename__ = "oauth_links"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime]


class LoginCodeRecord(Base):
    __tablename__ = "login_codes"

    code_hash: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    is_new_user: Mapped[bool]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime]
    consumed_at: Mapped[datetime | None]


class OAuthAttemptRecord(Base):
    __tablename__ = "oauth_attempts"

    state_hash: Mapped[str] = mapped_column(String(128), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    browser_hash: Mapped[str] = mapped_column(String(128))
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime]


class WatiLinkRecord(Base):
    __tablename__ = "wati_links"

    tenant_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    wati_email: Mapped[str] = mapped_column(String(320))
    wati_tenant: Mapped[str] = mapped_column(String(255))
    sealed_token: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]
