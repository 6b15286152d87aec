"""Forgotten password: email a code, trade it for a reset token, set the new password."""

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
    create_code_challenge,
    page_url,
    revoke_sessions_of,
    throttle_code_sends,
)
from application.identity.commands import (
    ForgotPasswordCommand,
    ForgotPasswordStarted,
    IdentityPolicy,
    PasswordResetVerified,
    ResetPasswordCommand,
    VerifyPasswordResetCommand,
)
from application.identity.ports import PasswordHasher, SessionRevocations
from domain.errors import InvalidArgument
from domain.identity.models import (
    CHALLENGE_MAX_ATTEMPTS,
    RESET_TOKEN_LIFETIME,
    Challenge,
    ChallengePurpose,
)
from domain.identity.rules import check_password, normalize_email


class StartPasswordReset:
    """Email a 6-digit code to reset the password of an account.

    - The answer is the same whether or not the email has an account, and so is the work
      (a challenge is stored and committed either way; only a known address is emailed), so
      neither the answer nor its timing tells which addresses have accounts.
    - Throttled exactly as registration codes (per email and per client IP), in both cases.
    - The code lives 10 minutes; only hashes of token and code are stored.
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

    async def __call__(self, command: ForgotPasswordCommand) -> ForgotPasswordStarted:
        email = normalize_email(command.email)
        await throttle_code_sends(self._limiter, self._policy, email, command.client_ip)
        async with self._uow() as uow:
            known = await uow.users.get_by_email(email) is not None
            issued = await create_code_challenge(
                uow,
                purpose=ChallengePurpose.FORGOT_PASSWORD,
                email=email,
                secrets=self._secrets,
                secret_hasher=self._secret_hasher,
                ids=self._ids,
                now=self._clock.now(),
                send=known,
            )
            await uow.commit()
        return ForgotPasswordStarted(token=issued.token)


class VerifyPasswordReset:
    """Check the emailed reset code and hand out a single-use reset token.

    - Unknown token, another email, an expired/used/killed challenge or a wrong code all
      answer `is_valid=False` (a wrong code is still counted; the fifth kills the challenge).
    - Success consumes the code challenge and creates a reset token valid 15 minutes,
      returned with the front-end page that asks for the new password.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        secrets: SecretGenerator,
        secret_hasher: SecretHasher,
        ids: IdGenerator,
        clock: Clock,
        policy: IdentityPolicy,
    ) -> None:
        self._uow = uow_factory
        self._secrets = secrets
        self._secret_hasher = secret_hasher
        self._ids = ids
        self._clock = clock
        self._policy = policy

    async def __call__(self, command: VerifyPasswordResetCommand) -> PasswordResetVerified:
        email = command.email.strip().lower()
        invalid = PasswordResetVerified(is_valid=False, email=email, new_token="", redirect_url="")
        if not command.token:
            return invalid
        now = self._clock.now()
        async with self._uow() as uow:
            challenge = await uow.challenges.get_by_token_hash(
                self._secret_hasher.hash(command.token)
            )
            if (
                challenge is None
                or challenge.purpose != ChallengePurpose.FORGOT_PASSWORD
                or challenge.email != email
            ):
                return invalid
            # Counted before comparing, atomically: parallel tries cannot exceed the five,
            # and of parallel right codes exactly one consumes the challenge.
            if not await uow.challenges.count_attempt(challenge.id, now, CHALLENGE_MAX_ATTEMPTS):
                return invalid
            matches = challenge.code_hash is not None and self._secret_hasher.matches(
                command.code.strip(), challenge.code_hash
            )
            if not matches:
                await uow.commit()  # the failed try sticks
                return invalid
            if not await uow.challenges.consume(challenge.id, now):
                return invalid
            reset_token = self._secrets.token()
            await uow.challenges.add(
                Challenge(
                    id=self._ids.new_id(),
                    purpose=ChallengePurpose.PASSWORD_RESET,
                    email=email,
                    token_hash=self._secret_hasher.hash(reset_token),
                    expires_at=now + RESET_TOKEN_LIFETIME,
                    created_at=now,
                )
            )
            await uow.commit()
        url = page_url(
            self._policy.frontend_url, "/reset-password", urlencode({"token": reset_token})
        )
        return PasswordResetVerified(
            is_valid=True, email=email, new_token=reset_token, redirect_url=url
        )


class ResetPassword:
    """Set a new password with a reset token; every session of the account ends.

    - `new_password` must equal `password_confirm` and follow the password policy.
    - The token must be a live reset token; it works once.
    - Setting the password also marks the email verified (the code proved the mailbox).
    - All the user's sessions are announced revoked to every replica, then revoked in the
      database with the new password; if the announcement fails, nothing changes.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        secret_hasher: SecretHasher,
        passwords: PasswordHasher,
        revocations: SessionRevocations,
        clock: Clock,
    ) -> None:
        self._uow = uow_factory
        self._secret_hasher = secret_hasher
        self._passwords = passwords
        self._revocations = revocations
        self._clock = clock

    async def __call__(self, command: ResetPasswordCommand) -> None:
        if command.new_password != command.password_confirm:
            raise InvalidArgument("password_confirm", "does not match new_password")
        now = self._clock.now()
        async with self._uow() as uow:
            challenge = None
            if command.token:
                token_hash = self._secret_hasher.hash(command.token)
                challenge = await uow.challenges.get_by_token_hash(token_hash)
            user = None
            if (
                challenge is not None
                and challenge.purpose == ChallengePurpose.PASSWORD_RESET
                and challenge.is_usable(now)
            ):
                user = await uow.users.get_by_email(challenge.email)
            if challenge is None or user is None:
                raise InvalidArgument("token", "is invalid or expired")
            check_password(command.new_password, user.email, field="new_password")
            # Exactly one of parallel resets with this token gets past here.
            if not await uow.challenges.consume(challenge.id, now):
                raise InvalidArgument("token", "is invalid or expired")
            user.set_password(await self._passwords.hash(command.new_password), now)
            user.email_verified = True
            await uow.users.update(user)
            revoked = await revoke_sessions_of(uow, user.id, now)
            # Announced before the commit: a failed announcement changes nothing (see Logout).
            await revoked.publish(self._revocations)
            await uow.commit()
