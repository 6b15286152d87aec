"""Signing in through an identity provider: links to accounts and one-time login codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.errors import NotFound

GOOGLE = "google"
WATI = "wati"
PROVIDERS = (GOOGLE, WATI)
# The browser carries a login code from the callback to the app: it must be used at once.
LOGIN_CODE_LIFETIME = timedelta(seconds=60)
# A person has this long at the provider's consent page before the attempt is void.
ATTEMPT_LIFETIME = timedelta(minutes=10)


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


@dataclass(frozen=True, slots=True)
class OAuthAttempt:
    """One started redirect sign-in, found again by its `state` (only the hash is stored)
    and bound to the browser that started it; used once."""

    state_hash: str
    provider: str
    browser_hash: str
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    expires_at: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True)
class WatiLink:
    """The WATI account behind a tenant, stored when its owner signs in with WATI; the
    long-lived token is kept sealed (encrypted), never in the clear."""

    tenant_id: str
    user_id: str
    wati_email: str
    wati_tenant: str
    sealed_token: str = field(repr=False)
    updated_at: datetime
