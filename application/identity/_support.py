"""Helpers the identity use cases share: code throttling and emails, sessions, revocations."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from application.common.ports import (
    IdGenerator,
    OutgoingEmail,
    RateLimiter,
    SecretGenerator,
    SecretHasher,
    UnitOfWork,
)
from application.identity.commands import IdentityPolicy
from application.identity.ports import SessionRevocations
from domain.errors import ResourceExhausted
from domain.identity.models import CHALLENGE_LIFETIME, Challenge, ChallengePurpose, Session, User
from domain.identity.rules import default_name_for
from domain.tenancy.models import Membership, Role, Tenant, default_tenant_name

CODE_DIGITS = 6
MINUTE = 60
HOUR = 60 * 60
# A revocation must outlive every access token of the session. The last token can be issued
# just before the session's absolute expiry and then lives its own lifetime (15 minutes by
# default), so the revocation is kept this much longer than the session itself.
REVOCATION_GRACE = timedelta(days=1)


async def count_or_refuse(
    limiter: RateLimiter, key: str, limit: int, window_seconds: int, refusal: str
) -> None:
    """Count one attempt under `key`; past `limit` in the window, `ResourceExhausted`."""
    decision = await limiter.hit(key, limit, window_seconds)
    if not decision.allowed:
        raise ResourceExhausted(refusal, retry_after=max(1, decision.retry_after))


async def throttle_code_sends(
    limiter: RateLimiter, policy: IdentityPolicy, email: str, client_ip: str
) -> None:
    """Count one emailed code against the client IP and the address; refuse past the limits.

    The IP is counted first so that a flood from one address is stopped before it uses up
    the per-email allowance of the people it targets.
    """
    checks = (
        (f"code:ip:{client_ip}", policy.code_sends_per_hour_per_ip, HOUR),
        (f"code:email:min:{email}", policy.code_sends_per_minute_per_email, MINUTE),
        (f"code:email:hour:{email}", policy.code_sends_per_hour_per_email, HOUR),
    )
    for key, limit, window in checks:
        await count_or_refuse(
            limiter, key, limit, window, "too many codes requested; try again later"
        )


@dataclass(frozen=True, slots=True)
class IssuedChallenge:
    """A stored challenge and the secrets only the client and the mailbox get to see."""

    challenge: Challenge
    token: str
    code: str


async def create_code_challenge(
    uow: UnitOfWork,
    *,
    purpose: ChallengePurpose,
    email: str,
    secrets: SecretGenerator,
    secret_hasher: SecretHasher,
    ids: IdGenerator,
    now: datetime,
    send: bool = True,
) -> IssuedChallenge:
    """Store a 10-minute challenge for `email` and queue the email carrying its code (unless
    `send` is false: the same work, for an address that must not learn anything)."""
    token = secrets.token()
    code = secrets.numeric_code(CODE_DIGITS)
    challenge = Challenge(
        id=ids.new_id(),
        purpose=purpose,
        email=email,
        token_hash=secret_hasher.hash(token),
        code_hash=secret_hasher.hash(code),
        expires_at=now + CHALLENGE_LIFETIME,
        created_at=now,
    )
    await uow.challenges.add(challenge)
    if send:
        await uow.outbox.add(code_email(purpose, email, code))
    return IssuedChallenge(challenge, token, code)


def code_email(purpose: ChallengePurpose, to: str, code: str) -> OutgoingEmail:
    minutes = int(CHALLENGE_LIFETIME.total_seconds() // 60)
    if purpose is ChallengePurpose.FORGOT_PASSWORD:
        subject = "Your Astra password reset code"
        intro = f"Your code to reset your Astra password is {code}."
        ignore = "If you did not ask to reset your password, you can ignore this email."
    else:
        subject = "Your Astra verification code"
        intro = f"Your Astra verification code is {code}."
        ignore = "If you did not ask to create an Astra account, you can ignore this email."
    text = (
        f"Hello,\n\n{intro}\n\nEnter it on the page where you requested it. "
        f"It expires in {minutes} minutes.\n\n{ignore}\n\nThe Astra team\n"
    )
    return OutgoingEmail(to=to, subject=subject, text=text)


async def open_session(uow: UnitOfWork, ids: IdGenerator, user_id: str, now: datetime) -> Session:
    session = Session(id=ids.new_id(), user_id=user_id, created_at=now, last_refreshed_at=now)
    await uow.sessions.add(session)
    return session


@dataclass(frozen=True, slots=True)
class RevokedSessions:
    """Sessions being revoked, to announce to every replica before the commit.

    Announce first: a failed announcement then rolls the revocation back (the caller gets `14`
    and may retry), while a commit failing after it leaves sessions refused everywhere. The
    other order could revoke in the database and leave replicas accepting the tokens.
    """

    ids: list[str]
    ttl_seconds: int

    async def publish(self, revocations: SessionRevocations) -> None:
        if self.ids:
            await revocations.revoke(list(self.ids), self.ttl_seconds)


def revocation_ttl(sessions: list[Session], now: datetime) -> int:
    """Seconds the revocation must be remembered: until the last session could have expired."""
    latest = max((s.absolute_expiry() for s in sessions), default=now)
    return max(1, math.ceil((latest + REVOCATION_GRACE - now).total_seconds()))


async def revoke_sessions_of(
    uow: UnitOfWork, user_id: str, now: datetime, *, except_id: str | None = None
) -> RevokedSessions:
    """Revoke the user's sessions (but `except_id`) in this unit of work."""
    ids = await uow.sessions.revoke_all_for_user(user_id, now, except_id=except_id)
    sessions = [s for s in [await uow.sessions.get(i) for i in ids] if s is not None]
    return RevokedSessions(ids, revocation_ttl(sessions, now))


def page_url(base: str, path: str, query: str) -> str:
    return f"{base.rstrip('/')}{path}?{query}"


async def add_account(
    uow: UnitOfWork,
    ids: IdGenerator,
    email: str,
    now: datetime,
    *,
    email_verified: bool,
    is_initialized: bool,
    auth_providers: list[str] | None = None,
) -> User:
    """A new account and the tenant it owns (named after it), inside `uow`; the caller
    commits. Every way of signing up makes its account here."""
    user = User(
        id=ids.new_id(),
        email=email,
        name=default_name_for(email),
        created_at=now,
        updated_at=now,
        email_verified=email_verified,
        is_initialized=is_initialized,
    )
    tenant = Tenant(
        id=ids.new_id(), name=default_tenant_name(user.name), created_at=now, updated_at=now
    )
    user.current_tenant_id = tenant.id
    user.auth_providers = list(auth_providers or [])
    await uow.tenants.add(tenant)
    await uow.users.add(user)
    await uow.memberships.add(Membership(tenant.id, user.id, Role.OWNER, now))
    return user
