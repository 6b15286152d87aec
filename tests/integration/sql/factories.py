"""Plain factories with random ids for the SQL adapter tests."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.identity.models import Challenge, ChallengePurpose, Session, User
from domain.tenancy.models import INVITATION_LIFETIME, ApiKey, Invitation, Membership, Role, Tenant


def new_id() -> str:
    return secrets.token_hex(12)


def utc_now() -> datetime:
    return datetime.now(UTC)


def make_user(**overrides: Any) -> User:
    now = utc_now()
    user_id = new_id()
    values: dict[str, Any] = {
        "id": user_id,
        "email": f"{user_id}@example.com",
        "name": "Ada Lovelace",
        "created_at": now,
        "updated_at": now,
    }
    return User(**(values | overrides))


def make_session(user_id: str, **overrides: Any) -> Session:
    now = utc_now()
    values: dict[str, Any] = {
        "id": new_id(),
        "user_id": user_id,
        "created_at": now,
        "last_refreshed_at": now,
    }
    return Session(**(values | overrides))


def make_challenge(**overrides: Any) -> Challenge:
    now = utc_now()
    values: dict[str, Any] = {
        "id": new_id(),
        "purpose": ChallengePurpose.REGISTER,
        "email": f"{new_id()}@example.com",
        "token_hash": secrets.token_hex(32),
        "code_hash": secrets.token_hex(32),
        "expires_at": now + timedelta(minutes=10),
        "created_at": now,
    }
    return Challenge(**(values | overrides))


def make_tenant(**overrides: Any) -> Tenant:
    now = utc_now()
    values: dict[str, Any] = {
        "id": new_id(),
        "name": "Ada's team",
        "created_at": now,
        "updated_at": now,
    }
    return Tenant(**(values | overrides))


def make_membership(tenant_id: str, user_id: str, **overrides: Any) -> Membership:
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "user_id": user_id,
        "role": Role.OWNER,
        "created_at": utc_now(),
    }
    return Membership(**(values | overrides))


def make_invitation(tenant_id: str, **overrides: Any) -> Invitation:
    now = utc_now()
    values: dict[str, Any] = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "email": f"{new_id()}@example.com",
        "role": Role.NORMAL,
        "token_hash": secrets.token_hex(32),
        "invited_by": new_id(),
        "created_at": now,
        "expires_at": now + INVITATION_LIFETIME,
    }
    return Invitation(**(values | overrides))


def make_api_key(tenant_id: str, **overrides: Any) -> ApiKey:
    values: dict[str, Any] = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "name": "CI deploys",
        "scopes": ["agents:read", "leads:read"],
        "secret_hash": secrets.token_hex(32),
        "created_by": new_id(),
        "created_at": utc_now(),
    }
    return ApiKey(**(values | overrides))
