"""Wires the identity use cases to the adapters the composition root picked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from application.common.ports import (
    Clock,
    IdGenerator,
    RateLimiter,
    SecretBox,
    SecretGenerator,
    SecretHasher,
    UnitOfWorkFactory,
)
from application.identity.commands import IdentityPolicy
from application.identity.deletion import DeleteUser
from application.identity.oauth import BrokerSession, CompleteSignIn, LoginCodes, OAuthUrls
from application.identity.oauth_flow import OAuthRedirectSignIn
from application.identity.password_reset import (
    ResetPassword,
    StartPasswordReset,
    VerifyPasswordReset,
)
from application.identity.ports import (
    AccountReader,
    IdentityProvider,
    ImageProcessor,
    ObjectStorage,
    PasswordHasher,
    SessionDirectory,
    SessionRevocations,
    TokenIssuer,
)
from application.identity.profile import (
    GetUser,
    UpdateUserAvatar,
    UpdateUserName,
    UpdateUserPassword,
)
from application.identity.registration import InitializeUser, StartRegistration, VerifyRegistration
from application.identity.sign_in import AuthenticateAccessToken, Login, Logout, RefreshToken
from application.identity.wati import WatiLinks


@dataclass(frozen=True, slots=True)
class IdentityUseCases:
    start_registration: StartRegistration
    verify_registration: VerifyRegistration
    initialize_user: InitializeUser
    login: Login
    logout: Logout
    refresh_token: RefreshToken
    authenticate: AuthenticateAccessToken
    start_password_reset: StartPasswordReset
    verify_password_reset: VerifyPasswordReset
    reset_password: ResetPassword
    get_user: GetUser
    update_name: UpdateUserName
    update_password: UpdateUserPassword
    update_avatar: UpdateUserAvatar
    delete_user: DeleteUser
    login_codes: LoginCodes
    broker_session: BrokerSession
    oauth_sign_in: OAuthRedirectSignIn
    oauth_urls: OAuthUrls
    wati_links: WatiLinks


def wire_identity(
    *,
    uow: UnitOfWorkFactory,
    accounts: AccountReader,
    clock: Clock,
    ids: IdGenerator,
    secrets: SecretGenerator,
    secret_hasher: SecretHasher,
    passwords: PasswordHasher,
    tokens: TokenIssuer,
    revocations: SessionRevocations,
    sessions: SessionDirectory,
    limiter: RateLimiter,
    images: ImageProcessor,
    storage: ObjectStorage,
    policy: IdentityPolicy,
    oauth_urls: OAuthUrls,
    identity_providers: Mapping[str, IdentityProvider],
    secret_box: SecretBox,
) -> IdentityUseCases:
    login_codes = LoginCodes(uow, secrets, secret_hasher, tokens, ids, clock)
    wati_links = WatiLinks(uow, secret_box)
    complete_sign_in = CompleteSignIn(uow, login_codes, wati_links, ids, clock)
    return IdentityUseCases(
        start_registration=StartRegistration(
            uow_factory=uow,
            limiter=limiter,
            secrets=secrets,
            secret_hasher=secret_hasher,
            ids=ids,
            clock=clock,
            policy=policy,
        ),
        verify_registration=VerifyRegistration(
            uow_factory=uow, secret_hasher=secret_hasher, tokens=tokens, ids=ids, clock=clock
        ),
        initialize_user=InitializeUser(
            uow_factory=uow, passwords=passwords, tokens=tokens, clock=clock
        ),
        login=Login(
            uow_factory=uow,
            passwords=passwords,
            tokens=tokens,
            limiter=limiter,
            ids=ids,
            clock=clock,
            policy=policy,
        ),
        logout=Logout(uow_factory=uow, revocations=revocations, clock=clock),
        refresh_token=RefreshToken(uow_factory=uow, tokens=tokens, clock=clock),
        authenticate=AuthenticateAccessToken(
            tokens=tokens, revocations=revocations, sessions=sessions
        ),
        start_password_reset=StartPasswordReset(
            uow_factory=uow,
            limiter=limiter,
            secrets=secrets,
            secret_hasher=secret_hasher,
            ids=ids,
            clock=clock,
            policy=policy,
        ),
        verify_password_reset=VerifyPasswordReset(
            uow_factory=uow,
            secrets=secrets,
            secret_hasher=secret_hasher,
            ids=ids,
            clock=clock,
            policy=policy,
        ),
        reset_password=ResetPassword(
            uow_factory=uow,
            secret_hasher=secret_hasher,
            passwords=passwords,
            revocations=revocations,
            clock=clock,
        ),
        get_user=GetUser(reader=accounts),
        update_name=UpdateUserName(uow_factory=uow, clock=clock),
        update_password=UpdateUserPassword(
            uow_factory=uow,
            passwords=passwords,
            revocations=revocations,
            limiter=limiter,
            clock=clock,
            policy=policy,
        ),
        update_avatar=UpdateUserAvatar(
            uow_factory=uow, images=images, storage=storage, ids=ids, clock=clock
        ),
        delete_user=DeleteUser(uow_factory=uow, revocations=revocations, clock=clock),
        login_codes=login_codes,
        broker_session=BrokerSession(complete_sign_in, oauth_urls),
        oauth_sign_in=OAuthRedirectSignIn(
            uow_factory=uow,
            providers=identity_providers,
            complete=complete_sign_in,
            urls=oauth_urls,
            secrets=secrets,
            hasher=secret_hasher,
            limiter=limiter,
            clock=clock,
        ),
        oauth_urls=oauth_urls,
        wati_links=wati_links,
    )
