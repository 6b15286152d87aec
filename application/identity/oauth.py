"""Signing in with an identity provider: a verified identity becomes an account, the
browser carries a one-time login code back to the app, and the app exchanges it.

The brokered hand-off (`BrokerSession`, internal) is the first way in; the OpenID Connect
redirect flow (authlib) ends in the same `sign_in_identity`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from application.common.caller import Caller, CredentialKind
from application.common.ports import (
    Clock,
    IdGenerator,
    SecretGenerator,
    SecretHasher,
    UnitOfWork,
    UnitOfWorkFactory,
)
from application.identity._support import add_account, open_session
from application.identity.ports import ProviderGrant, TokenIssuer, VerifiedIdentity
from application.identity.wati import WatiLinks
from domain.errors import AstraError, ErrorCode, PermissionDenied, Unauthenticated
from domain.identity.models import User
from domain.identity.oauth import (
    LOGIN_CODE_LIFETIME,
    WATI,
    LoginCode,
    OAuthLink,
    known_provider,
)
from domain.identity.rules import normalize_email

# StatusCode names (contract §1.6) for `error_code` fields and `?error=` redirects.
STATUS_CODE_NAMES = {
    ErrorCode.INVALID_ARGUMENT: "SC_INVALID_ARGUMENT",
    ErrorCode.NOT_FOUND: "SC_NOT_FOUND",
    ErrorCode.ALREADY_EXISTS: "SC_ALREADY_EXISTS",
    ErrorCode.PERMISSION_DENIED: "SC_PERMISSION_DENIED",
    ErrorCode.RESOURCE_EXHAUSTED: "SC_RESOURCE_EXHAUSTED",
    ErrorCode.FAILED_PRECONDITION: "SC_FAILED_PRECONDITION",
    ErrorCode.INTERNAL: "SC_INTERNAL",
    ErrorCode.UNAUTHENTICATED: "SC_UNAUTHENTICATED",
}
SC_OK = "SC_OK"
UNVERIFIED_CONFLICT = (
    "an account with this email exists; the provider did not verify the email, so sign in "
    "with your password instead"
)


def status_code_name(error: AstraError) -> str:
    return STATUS_CODE_NAMES.get(error.code, "SC_INTERNAL")


async def sign_in_identity(
    uow: UnitOfWork, ids: IdGenerator, identity: VerifiedIdentity, now: datetime
) -> tuple[User, bool]:
    """The account for `identity`, created if new (with its first tenant, on the trial).

    - A link by (provider, subject) signs that account in.
    - Else an account with the same email is linked only when the provider verified the
      email; otherwise `PermissionDenied` (nobody takes over an account by claiming its
      address).
    - Else a new, initialised account (no password needed) that owns a new tenant.
    Returns the user and whether it is new; the caller commits.
    """
    link = await uow.oauth.get_link(identity.provider, identity.subject)
    if link is not None:
        user = await uow.users.get(link.user_id)
        if user is not None:
            return user, False
    email = normalize_email(identity.email)
    user = await uow.users.get_by_email(email)
    if user is not None and not identity.email_verified:
        raise PermissionDenied(UNVERIFIED_CONFLICT)
    is_new = user is None
    if user is None:
        user = await add_account(
            uow,
            ids,
            email,
            now,
            email_verified=identity.email_verified,
            is_initialized=True,
            auth_providers=[identity.provider],
        )
    elif identity.provider not in user.auth_providers:
        user.auth_providers = [*user.auth_providers, identity.provider]
        user.updated_at = now
        await uow.users.update(user)
    await uow.oauth.add_link(OAuthLink(identity.provider, identity.subject, user.id, email, now))
    return user, is_new


@dataclass(frozen=True, slots=True)
class OAuthUrls:
    """Where providers send the browser back, and where Astra sends it on."""

    public_url: str  # this service, for callback URLs
    post_callback_url: str  # the front-end page that receives `login_code` or `error`

    def callback(self, provider: str) -> str:
        return f"{self.public_url}/account/v1/auth/oauth/{known_provider(provider)}/callback"

    def post_callback(self, **query: str) -> str:
        return f"{self.post_callback_url}?{urlencode(query)}" if query else self.post_callback_url


class LoginCodes:
    """Issue a one-time login code for an account, and exchange one for an access token.

    A code works once and for `LOGIN_CODE_LIFETIME` (60 s); an unknown, expired or used
    code → `Unauthenticated`. Of many concurrent exchanges of one code exactly one wins.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        secrets: SecretGenerator,
        hasher: SecretHasher,
        tokens: TokenIssuer,
        ids: IdGenerator,
        clock: Clock,
    ) -> None:
        self._uow = uow_factory
        self._secrets = secrets
        self._hasher = hasher
        self._tokens = tokens
        self._ids = ids
        self._clock = clock

    async def issue(self, uow: UnitOfWork, user: User, is_new_user: bool) -> str:
        """A new code inside `uow` (the caller commits)."""
        now = self._clock.now()
        code = self._secrets.token()
        await uow.oauth.add_login_code(
            LoginCode(self._hasher.hash(code), user.id, is_new_user, now + LOGIN_CODE_LIFETIME, now)
        )
        return code

    async def exchange(self, login_code: str) -> tuple[str, bool]:
        """The access token and `is_new_user` for a login code."""
        now = self._clock.now()
        code = login_code.strip()
        async with self._uow() as uow:
            used = (
                await uow.oauth.consume_login_code(self._hasher.hash(code), now) if code else None
            )
            if used is None:
                raise Unauthenticated("the login code is invalid, expired or already used")
            session = await open_session(uow, self._ids, used.user_id, now)
            await uow.commit()
        return self._tokens.issue(used.user_id, session.id), used.is_new_user


class CompleteSignIn:
    """The last step of every way in: the account for a provider grant (created or linked),
    the tenant's WATI link when its owner came through WATI, and a fresh login code —
    all in one transaction. Returns the code and whether the account is new."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        codes: LoginCodes,
        wati: WatiLinks,
        ids: IdGenerator,
        clock: Clock,
    ) -> None:
        self._uow = uow_factory
        self._codes = codes
        self._wati = wati
        self._ids = ids
        self._clock = clock

    async def __call__(self, grant: ProviderGrant) -> tuple[str, bool]:
        async with self._uow() as uow:
            now = self._clock.now()
            user, is_new = await sign_in_identity(uow, self._ids, grant.identity, now)
            if grant.identity.provider == WATI:
                await self._wati.remember(uow, user, grant, now)
            code = await self._codes.issue(uow, user, is_new)
            await uow.commit()
        return code, is_new


@dataclass(frozen=True, slots=True)
class BrokeredSession:
    caller: Caller
    email: str
    provider: str
    access_token: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    from_link: str = ""
    country: str = ""
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class SessionHandOff:
    redirect_url: str
    error_code: str
    is_new_user: bool


class BrokerSession:
    """Session (internal): a trusted broker hands over an identity it verified.

    - Only an INTERNAL credential (else `Unauthenticated`: the wrong kind, §1.2).
    - Unknown provider → `NotFound`; the email counts as verified (the broker vouches);
      `extra.sub` is the provider's subject when the broker knows it.
    - The answer always carries a post-callback `redirect_url`: with a `login_code` and
      `error_code` SC_OK, or with `error=<StatusCode name>` when refused.
    """

    def __init__(self, complete: CompleteSignIn, urls: OAuthUrls) -> None:
        self._complete = complete
        self._urls = urls

    async def __call__(self, command: BrokeredSession) -> SessionHandOff:
        if command.caller.kind is not CredentialKind.INTERNAL:
            raise Unauthenticated("this operation needs an internal key")
        provider = known_provider(command.provider)
        email = normalize_email(command.email)
        subject = str(command.extra.get("sub") or "") or f"email:{email}"
        grant = ProviderGrant(
            VerifiedIdentity(provider, subject, email, True),
            command.access_token,
            command.refresh_token,
            command.extra,
        )
        try:
            code, is_new = await self._complete(grant)
        except (PermissionDenied, Unauthenticated) as refused:
            name = status_code_name(refused)
            return SessionHandOff(self._urls.post_callback(error=name), name, False)
        return SessionHandOff(self._urls.post_callback(login_code=code), SC_OK, is_new)
