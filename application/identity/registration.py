"""Sign-up by emailed code: start, verify (creating the account) and set the first password."""

from __future__ import annotations

from urllib.parse import urlencode

from application.common.ports import (
    Clock,
    IdGenerator,
    RateLimiter,
    SecretGenerator,
    SecretHasher,
    UnitOfWorkFactory,
)
from application.identity._support import (
    add_account,
    create_code_challenge,
    open_session,
    page_url,
    throttle_code_sends,
)
from application.identity.commands import (
    IdentityPolicy,
    InitializeUserCommand,
    RegistrationStarted,
    SignedIn,
    StartRegistrationCommand,
    VerifyRegistrationCommand,
)
from application.identity.ports import PasswordHasher, TokenIssuer
from domain.errors import AlreadyExists, InvalidArgument, Unauthenticated
from domain.identity.models import CHALLENGE_MAX_ATTEMPTS, ChallengePurpose
from domain.identity.rules import (
    check_password,
    clean_timezone,
    normalize_email,
)


class StartRegistration:
    """Email a 6-digit code that proves the address belongs to the person signing up.

    - The email is normalised; an already registered one → `AlreadyExists`.
    - Code sends are throttled per email (1/minute, 5/hour) and per client IP.
    - The challenge stores only hashes of its token and code, and lives 10 minutes.
    - The email is queued in the same transaction: it leaves only if the challenge is stored.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        limiter: RateLimiter,
        secrets: SecretGenerator,
        secret_hasher: SecretHasher,
        ids: IdGenerator,
        clock: Clock,
        policy: IdentityPolicy,
    ) -> None:
        self._uow = uow_factory
        self._limiter = limiter
        self._secrets = secrets
        self._secret_hasher = secret_hasher
        self._ids = ids
        self._clock = clock
        self._policy = policy

    async def __call__(self, command: StartRegistrationCommand) -> RegistrationStarted:
        email = normalize_email(command.email)
        async with self._uow() as uow:
            if await uow.users.get_by_email(email) is not None:
                raise AlreadyExists("email already registered")
            await throttle_code_sends(self._limiter, self._policy, email, command.client_ip)
            issued = await create_code_challenge(
                uow,
                purpose=ChallengePurpose.REGISTER,
                email=email,
                secrets=self._secrets,
                secret_hasher=self._secret_hasher,
                ids=self._ids,
                now=self._clock.now(),
            )
            await uow.commit()
        query = urlencode({"token": issued.token, "email": email})
        url = page_url(self._policy.frontend_url, "/register/verify", query)
        return RegistrationStarted(token=issued.token, redirect_url=url)


class VerifyRegistration:
    """Check the emailed code and create the account, its first tenant and a session.

    - The token must name a live REGISTER challenge for this email, else `token` is invalid.
    - A wrong code counts as an attempt (persisted); the fifth wrong one kills the challenge.
    - An expired, used or killed challenge → `code` has expired.
    - Success consumes the challenge and creates a verified, not yet initialised user who
      owns a new tenant that is their current one; then signs them in.
    - If the email got registered in the meantime → `AlreadyExists`.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        secret_hasher: SecretHasher,
        tokens: TokenIssuer,
        ids: IdGenerator,
        clock: Clock,
    ) -> None:
        self._uow = uow_factory
        self._secret_hasher = secret_hasher
        self._tokens = tokens
        self._ids = ids
        self._clock = clock

    async def __call__(self, command: VerifyRegistrationCommand) -> SignedIn:
        email = normalize_email(command.email)
        now = self._clock.now()
        async with self._uow() as uow:
            challenge = None
            if command.token:
                token_hash = self._secret_hasher.hash(command.token)
                challenge = await uow.challenges.get_by_token_hash(token_hash)
            if (
                challenge is None
                or challenge.purpose != ChallengePurpose.REGISTER
                or challenge.email != email
            ):
                raise InvalidArgument("token", "is invalid or expired")
            # Counted before comparing, atomically: parallel tries cannot exceed the five.
            if not await uow.challenges.count_attempt(challenge.id, now, CHALLENGE_MAX_ATTEMPTS):
                raise InvalidArgument("code", "has expired; request a new one")
            matches = challenge.code_hash is not None and self._secret_hasher.matches(
                command.code.strip(), challenge.code_hash
            )
            if not matches:
                await uow.commit()  # the failed try sticks
                raise InvalidArgument("code", "is incorrect")
            if not await uow.challenges.consume(challenge.id, now):
                raise InvalidArgument("code", "has expired; request a new one")
            if await uow.users.get_by_email(email) is not None:
                raise AlreadyExists("email already registered")

            user = await add_account(
                uow, self._ids, email, now, email_verified=True, is_initialized=False
            )
            session = await open_session(uow, self._ids, user.id, now)
            await uow.commit()
        return SignedIn(self._tokens.issue(user.id, session.id), is_initialized=False)


class InitializeUser:
    """Set the first password (and time zone) of an account created by email code.

    - The password policy applies (8-128 characters, not the email).
    - Allowed once: an initialised account → `FailedPrecondition`.
    - The session stays; a fresh access token for it is returned.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        passwords: PasswordHasher,
        tokens: TokenIssuer,
        clock: Clock,
    ) -> None:
        self._uow = uow_factory
        self._passwords = passwords
        self._tokens = tokens
        self._clock = clock

    async def __call__(self, command: InitializeUserCommand) -> SignedIn:
        timezone = clean_timezone(command.timezone)
        async with self._uow() as uow:
            user = await uow.users.get(command.user_id)
            if user is None:
                raise Unauthenticated("the account no longer exists")
            check_password(command.password, user.email)
            password_hash = await self._passwords.hash(command.password)
            user.initialize(password_hash, timezone, self._clock.now())
            await uow.users.update(user)
            await uow.commit()
        return SignedIn(self._tokens.issue(user.id, command.session_id), is_initialized=True)
