"""Identity entities: users, sign-in sessions and emailed verification challenges."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from domain.errors import FailedPrecondition

SESSION_IDLE_LIMIT = timedelta(days=7)
SESSION_ABSOLUTE_LIMIT = timedelta(days=30)
CHALLENGE_LIFETIME = timedelta(minutes=10)
CHALLENGE_MAX_ATTEMPTS = 5
RESET_TOKEN_LIFETIME = timedelta(minutes=15)


@dataclass(slots=True)
class User:
    id: str
    email: str
    name: str
    created_at: datetime
    updated_at: datetime
    password_hash: str | None = None
    avatar_url: str = ""
    timezone: str = ""
    is_initialized: bool = False
    email_verified: bool = False
    current_tenant_id: str = ""
    auth_providers: list[str] = field(default_factory=list)

    def set_password(self, password_hash: str, now: datetime) -> None:
        self.password_hash = password_hash
        if "password" not in self.auth_providers:
            self.auth_providers.append("password")
        self.updated_at = now

    def initialize(self, password_hash: str, timezone: str, now: datetime) -> None:
        """First password after email verification; allowed exactly once."""
        if self.is_initialized:
            raise FailedPrecondition("the account is already initialized")
        self.set_password(password_hash, now)
        self.timezone = timezone
        self.is_initialized = True

    def rename(self, name: str, now: datetime) -> None:
        self.name = name
        self.updated_at = now

    def change_avatar(self, url: str, now: datetime) -> None:
        self.avatar_url = url
        self.updated_at = now


@dataclass(slots=True)
class Session:
    """A server-side sign-in session; access tokens carry its id as `sid`."""

    id: str
    user_id: str
    created_at: datetime
    last_refreshed_at: datetime
    revoked_at: datetime | None = None

    def is_alive(self, now: datetime) -> bool:
        return (
            self.revoked_at is None
            and now - self.last_refreshed_at < SESSION_IDLE_LIMIT
            and now - self.created_at < SESSION_ABSOLUTE_LIMIT
        )

    def absolute_expiry(self) -> datetime:
        return self.created_at + SESSION_ABSOLUTE_LIMIT

    def refresh(self, now: datetime) -> None:
        self.last_refreshed_at = now

    def revoke(self, now: datetime) -> None:
        if self.revoked_at is None:
            self.revoked_at = now


class ChallengePurpose(StrEnum):
    REGISTER = "register"
    FORGOT_PASSWORD = "forgot_password"
    PASSWORD_RESET = "password_reset"


@dataclass(slots=True)
class Challenge:
    """A single-use secret sent by email (a 6-digit code) or handed out (a reset token).

    `token_hash` identifies the challenge (the client holds the token); `code_hash` is the
    hash of the emailed code, absent for reset tokens. Both are HMACs: neither secret is stored.
    """

    id: str
    purpose: ChallengePurpose
    email: str
    token_hash: str
    expires_at: datetime
    created_at: datetime
    code_hash: str | None = None
    attempts: int = 0
    consumed_at: datetime | None = None

    def is_usable(self, now: datetime) -> bool:
        return (
            self.consumed_at is None
            and now < self.expires_at
            and self.attempts < CHALLENGE_MAX_ATTEMPTS
        )
