"""Ports the identity use cases need."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from domain.identity.models import Challenge, Session, User
from domain.identity.oauth import LoginCode, OAuthAttempt, OAuthLink, WatiLink


class OAuthRepository(Protocol):
    """Links of accounts to provider identities, and one-time login codes."""

    async def get_link(self, provider: str, subject: str) -> OAuthLink | None: ...

    async def add_link(self, link: OAuthLink) -> bool:
        """False (nothing changed) when (provider, subject) is already linked."""
        ...

    async def add_login_code(self, code: LoginCode) -> None: ...

    async def consume_login_code(self, code_hash: str, now: datetime) -> LoginCode | None:
        """Use the code if it is unused and unexpired at `now`: one of many concurrent
        calls gets it, the others None."""
        ...

    async def add_attempt(self, attempt: OAuthAttempt) -> None:
        """Store a started sign-in; attempts and login codes expired before
        `attempt.created_at` are deleted on the way (nothing else reclaims them)."""
        ...

    async def take_attempt(self, state_hash: str, now: datetime) -> OAuthAttempt | None:
        """Remove and return the unexpired attempt: one of many concurrent calls gets it."""
        ...

    async def save_wati_link(self, link: WatiLink) -> None:
        """Insert or replace the tenant's WATI link."""
        ...

    async def get_wati_link(self, tenant_id: str) -> WatiLink | None: ...


class UserRepository(Protocol):
    async def get(self, user_id: str) -> User | None: ...

    async def get_by_email(self, email: str) -> User | None: ...

    async def add(self, user: User) -> None:
        """Insert; raises `AlreadyExists` when the email is taken."""
        ...

    async def update(self, user: User) -> None: ...

    async def delete(self, user_id: str) -> None: ...


class SessionRepository(Protocol):
    async def get(self, session_id: str) -> Session | None: ...

    async def add(self, session: Session) -> None: ...

    async def update(self, session: Session) -> None: ...

    async def revoke_all_for_user(
        self, user_id: str, now: datetime, *, except_id: str | None = None
    ) -> list[str]:
        """Revoke the user's live sessions (but `except_id`); return the ids revoked."""
        ...


class ChallengeRepository(Protocol):
    async def get_by_token_hash(self, token_hash: str) -> Challenge | None: ...

    async def add(self, challenge: Challenge) -> None: ...

    async def update(self, challenge: Challenge) -> None: ...

    async def count_attempt(self, challenge_id: str, now: datetime, max_attempts: int) -> bool:
        """Count one try of the challenge's code, if it may still be tried (unused, unexpired,
        fewer than `max_attempts` tries so far), in one conditional write: True when counted.

        Counted before the code is compared, and held to the commit, so parallel tries are
        counted one after another and no more than `max_attempts` are ever compared.
        """
        ...

    async def consume(self, challenge_id: str, now: datetime) -> bool:
        """Mark the challenge used if nobody has and it has not expired, in one conditional
        write: exactly one of parallel requests gets True."""
        ...


@dataclass(frozen=True, slots=True)
class AccountView:
    """What a user sees of their own account (never the password hash)."""

    id: str
    email: str
    name: str
    avatar_url: str
    timezone: str
    is_initialized: bool
    email_verified: bool
    current_tenant_id: str
    auth_providers: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, user: User) -> AccountView:
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            avatar_url=user.avatar_url,
            timezone=user.timezone,
            is_initialized=user.is_initialized,
            email_verified=user.email_verified,
            current_tenant_id=user.current_tenant_id,
            auth_providers=list(user.auth_providers),
            created_at=user.created_at,
            updated_at=user.updated_at,
        )


class AccountReader(Protocol):
    """A read path that bypasses the unit of work: one row, no transaction."""

    async def account(self, user_id: str) -> AccountView | None: ...


class SessionDirectory(Protocol):
    """The database's word on a session: it exists and was not revoked."""

    async def is_open(self, session_id: str) -> bool: ...


class PasswordHasher(Protocol):
    """argon2id; both calls run off the event loop."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str, password: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    session_id: str
    expires_at: datetime


class TokenIssuer(Protocol):
    def issue(self, user_id: str, session_id: str) -> str: ...

    def read(self, token: str, *, allow_expired: bool = False) -> AccessClaims:
        """Verify signature, issuer and audience; raises `Unauthenticated` when invalid."""
        ...


class SessionRevocations(Protocol):
    """Revoked session ids, seen by every replica within a second."""

    async def revoke(self, session_ids: list[str], ttl_seconds: int) -> None: ...

    async def is_revoked(self, session_id: str) -> bool: ...


class ObjectStorage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> str:
        """Store the object and return the public URL it is served from."""
        ...

    async def delete(self, key: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Thumbnail:
    data: bytes
    content_type: str
    extension: str


class ImageProcessor(Protocol):
    async def thumbnail(self, data: bytes, content_type: str) -> Thumbnail:
        """Decode the image and return a small square-bounded thumbnail.

        Raises `InvalidArgument` (field `file`) when the bytes are not a decodable image.
        """
        ...


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    provider: str
    subject: str
    email: str
    email_verified: bool


@dataclass(frozen=True, slots=True)
class ProviderGrant:
    """What a redeemed authorization code gave: the verified identity and the tokens."""

    identity: VerifiedIdentity
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    claims: dict[str, Any] = field(default_factory=dict, repr=False)


class IdentityProvider(Protocol):
    """One OpenID Connect provider (authorization code with PKCE S256 and a nonce)."""

    name: str

    async def authorization_url(
        self, redirect_uri: str, state: str, nonce: str, code_verifier: str
    ) -> str: ...

    async def redeem(
        self, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> ProviderGrant:
        """Exchange the code and verify the id_token; `Unauthenticated` when anything does
        not hold, `Unavailable` when the provider cannot be reached."""
        ...
