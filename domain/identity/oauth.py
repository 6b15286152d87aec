"""Signing in through an identity provider: links to accounts and one-time login codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.errors import NotFound

PROVIDERS = ("google", "wati")
# The browser carries a login code from the callback to the app: it must be used at once.
LOGIN_CODE_LIFETIME = timedelta(seconds=60)


def known_provider(name: str) -> str:
    """A provider Astra knows (`google`, `wati`); anything else → `NotFound` (code 5)."""
    provider = name.strip().lower()
    if provider not in PROVIDERS:
        raise NotFound(f"unknown sign-in provider {name!r}")
    return provider


@dataclass(frozen=True, slots=True)
class OAuthLink:
    """An account's identity at a provider; (provider, subject) is unique."""

    provider: str
    subject: str
    user_id: str
    email: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LoginCode:
    """A single-use code exchanged for an access token (only its hash is stored)."""

    code_hash: str
    user_id: str
    is_new_user: bool
    expires_at: datetime
    created_at: datetime
    consumed_at: datetime | None = None
