"""Password sign-in, sign-out, token refresh and the per-request token check."""

from __future__ import annotations

from application.common.ports import Clock, IdGenerator, RateLimiter, UnitOfWorkFactory
from application.identity._support import (
    RevokedSessions,
    count_or_refuse,
    open_session,
    revocation_ttl,
)
from application.identity.commands import (
    IdentityPolicy,
    LoginCommand,
    LogoutCommand,
    Principal,
    RefreshTokenCommand,
    SignedIn,
)
from application.identity.ports import (
    PasswordHasher,
    SessionDirectory,
    SessionRevocations,
    TokenIssuer,
)
from domain.errors import Unauthenticated
from domain.identity.rules import normalize_email

BAD_CREDENTIALS = "invalid email or password"
# Hashed once per hasher and verified against when the email is unknown, so that a miss
# costs the same argon2 work as a wrong password and timing does not reveal accounts. Kept
# at module level because a `Login` may be built per request; the hasher is held so its id
# cannot be reused by another object.
_DUMMY_PASSWORD = "not-a-real-password-but-long-enough"
_dummy_hashes: dict[int, tuple[PasswordHasher, str]] = {}


class Login:
    """Sign in with email and password, opening a new session.

    - 10 failures for one email from one IP within 15 minutes lock that pair out
      (`ResourceExhausted` with `retry_after`). Each attempt is counted (one atomic
      increment) before its password is verified, so a burst of parallel attempts gets no
      more verifications than one after another would.
    - Before that, at most 60 attempts a minute from one client address, whatever the emails.
    - Unknown email, wrong password or an account without a password all answer the same
      `Unauthenticated("invalid email or password")`, after the same argon2 work.
    - Success clears the failure count and returns an access token for a new session.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        passwords: PasswordHasher,
        tokens: TokenIssuer,
        limiter: RateLimiter,
        ids: IdGenerator,
        clock: Clock,
        policy: IdentityPolicy,
    ) -> None:
        self._uow = uow_factory
        self._passwords = passwords
        self._tokens = tokens
        self._limiter = limiter
        self._ids = ids
        self._clock = clock
        self._policy = policy

    async def __call__(self, command: LoginCommand) -> SignedIn:
        email = normalize_email(command.email)
        key = f"login:{email}:{command.client_ip}"
        policy = self._policy
        await count_or_refuse(
            self._limiter,
            f"login:ip:{command.client_ip}",
            policy.login_attempts_per_minute_per_ip,
            60,
            "too many sign-in attempts from this address; try again later",
        )
        await count_or_refuse(
            self._limiter,
            key,
            policy.login_failures_per_window,
            policy.login_failure_window_seconds,
            "too many failed sign-in attempts; try again later",
        )
        async with self._uow() as uow:
            user = await uow.users.get_by_email(email)
        # argon2 runs with no database connection held: a burst of sign-ins (or an attack)
        # must not drain the connection pool for ~100 ms per attempt.
        if user is None or user.password_hash is None:
            await self._passwords.verify(await self._dummy(), command.password)
            verified = False
        else:
            verified = await self._passwords.verify(user.password_hash, command.password)
        if user is None or not verified:
            raise Unauthenticated(BAD_CREDENTIALS)  # the attempt was counted above
        async with self._uow() as uow:
            session = await open_session(uow, self._ids, user.id, self._clock.now())
            await uow.commit()
        await self._limiter.reset(key)
        return SignedIn(self._tokens.issue(user.id, session.id), user.is_initialized)

    async def _dummy(self) -> str:
        cached = _dummy_hashes.get(id(self._passwords))
        if cached is None:
            cached = (self._passwords, await self._passwords.hash(_DUMMY_PASSWORD))
            _dummy_hashes[id(self._passwords)] = cached
        return cached[1]


class Logout:
    """End the caller's session.

    - The session is announced revoked to every replica (its access tokens stop working at
      once), then revoked in the database. In that order: if the announcement fails nothing
      is committed, the answer is `14` and the session still works, so a retry logs out.
    - Logging out twice is harmless (the announcement is repeated).
    """

    def __init__(
        self, uow_factory: UnitOfWorkFactory, revocations: SessionRevocations, clock: Clock
    ) -> None:
        self._uow = uow_factory
        self._revocations = revocations
        self._clock = clock

    async def __call__(self, command: LogoutCommand) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            session = await uow.sessions.get(command.session_id)
            if session is None:
                return
            session.revoke(now)
            await uow.sessions.update(session)
            await RevokedSessions([session.id], revocation_ttl([session], now)).publish(
                self._revocations
            )
            await uow.commit()


class RefreshToken:
    """Trade an access token (expired or not) for a new one while its session lives.

    - The token must be well signed; its expiry is ignored.
    - The session must exist, belong to the token's user and be alive: not revoked, used
      within 7 days and younger than 30 days. Otherwise `Unauthenticated`.
    - Refreshing counts as use of the session (resets the idle clock).
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, tokens: TokenIssuer, clock: Clock) -> None:
        self._uow = uow_factory
        self._tokens = tokens
        self._clock = clock

    async def __call__(self, command: RefreshTokenCommand) -> str:
        claims = self._tokens.read(command.token, allow_expired=True)
        now = self._clock.now()
        async with self._uow() as uow:
            session = await uow.sessions.get(claims.session_id)
            if session is None or session.user_id != claims.user_id or not session.is_alive(now):
                raise Unauthenticated("the session has ended; sign in again")
            session.refresh(now)
            await uow.sessions.update(session)
            await uow.commit()
        return self._tokens.issue(claims.user_id, session.id)


class AuthenticateAccessToken:
    """Turn a bearer access token into the calling principal; runs on every request.

    - The token must be well signed and not expired.
    - Its session must not be revoked (announced to every replica, checked every time) and
      must exist, open, in the database (`SessionDirectory`, cached per process: a session
      only ever closes by a revocation, which the first check sees at once).
    """

    def __init__(
        self, tokens: TokenIssuer, revocations: SessionRevocations, sessions: SessionDirectory
    ) -> None:
        self._tokens = tokens
        self._revocations = revocations
        self._sessions = sessions

    async def __call__(self, token: str) -> Principal:
        claims = self._tokens.read(token)
        if await self._revocations.is_revoked(claims.session_id):
            raise Unauthenticated("the session has been revoked")
        if not await self._sessions.is_open(claims.session_id):
            raise Unauthenticated("the session has ended; sign in again")
        return Principal(user_id=claims.user_id, session_id=claims.session_id)
