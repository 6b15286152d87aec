"""Plain factories with random ids; pass keyword overrides for what a test cares about."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from domain.identity.models import (
    CHALLENGE_LIFETIME,
    Challenge,
    ChallengePurpose,
    Session,
    User,
)
from domain.tenancy.models import Membership, Role, Tenant
from tests.fakes.clock import DEFAULT_START


def new_id() -> str:
    return uuid.uuid4().hex


def make_user(**overrides: Any) -> User:
    user_id = overrides.pop("id", new_id())
    now: datetime = overrides.pop("created_at", DEFAULT_START)
    user = User(
        id=user_id,
        email=f"user-{user_id[:8]}@example.com",
        name=f"User {user_id[:8]}",
        created_at=now,
        updated_at=now,
        email_verified=True,
        is_initialized=True,
    )
    return replace(user, **overrides)


def make_session(**overrides: Any) -> Session:
    now: datetime = overrides.pop("created_at", DEFAULT_START)
    session = Session(id=new_id(), user_id=new_id(), created_at=now, last_refreshed_at=now)
    return replace(session, **overrides)


def make_challenge(**overrides: Any) -> Challenge:
    now: datetime = overrides.pop("created_at", DEFAULT_START)
    challenge = Challenge(
        id=new_id(),
        purpose=ChallengePurpose.REGISTER,
        email=f"someone-{new_id()[:8]}@example.com",
        token_hash=new_id(),
        code_hash=new_id(),
        expires_at=now + CHALLENGE_LIFETIME,
        created_at=now,
    )
    return replace(challenge, **overrides)


def make_tenant(**overrides: Any) -> Tenant:
    now: datetime = overrides.pop("created_at", DEFAULT_START)
    tenant_id = overrides.pop("id", new_id())
    tenant = Tenant(id=tenant_id, name=f"Team {tenant_id[:8]}", created_at=now, updated_at=now)
    return replace(tenant, **overrides)


def make_membership(**overrides: Any) -> Membership:
    membership = Membership(
        tenant_id=new_id(), user_id=new_id(), role=Role.NORMAL, created_at=DEFAULT_START
    )
    return replace(membership, **overrides)
