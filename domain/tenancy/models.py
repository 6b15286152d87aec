"""Tenancy entities: a tenant (team) and a person's membership in it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    NORMAL = "normal"


@dataclass(slots=True)
class Tenant:
    id: str
    name: str
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class Membership:
    tenant_id: str
    user_id: str
    role: Role
    created_at: datetime


def default_tenant_name(display_name: str) -> str:
    return f"{display_name}'s team"[:100]
