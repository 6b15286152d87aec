"""Every identity use case wired to in-memory adapters and fakes sharing one fixed clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.memory.uow import (
    InMemoryAccountReader,
    InMemorySessionDirectory,
    InMemoryStore,
    InMemoryUnitOfWorkFactory,
)
from application.identity.commands import (
    IdentityPolicy,
    InitializeUserCommand,
    SignedIn,
    StartRegistrationCommand,
    VerifyRegistrationCommand,
)
from application.identity.deletion import DeleteUser
from application.identity.password_reset import (
    ResetPassword,
    StartPasswordReset,
    VerifyPasswordReset,
)
from application.identity.profile import (
    GetUser,
    UpdateUserAvatar,
    UpdateUserName,
    UpdateUserPassword,
)
from application.identity.registration import (
    InitializeUser,
    StartRegistration,
    VerifyRegistration,
)
from application.identity.sign_in import AuthenticateAccessToken, Login, Logout, RefreshToken
from domain.identity.models import Session, User
from tests.fakes.clock import FixedClock
from tests.fakes.ids import PredictableSecrets, SequentialIds
from tests.fakes.limits import FakeRateLimiter, FakeSessionRevocations
from tests.fakes.media import FakeImageProcessor, FakeObjectStorage
from tests.fakes.security import FakePasswordHasher, FakeTokenIssuer, PlainSecretHasher

FRONTEND_URL = "https://app.example.com"


@dataclass
class IdentityKit:
    clock: FixedClock = field(default_factory=FixedClock)
    policy: IdentityPolicy = field(default_factory=lambda: IdentityPolicy(FRONTEND_URL))
    store: InMemoryStore = field(default_factory=InMemoryStore)
    ids: SequentialIds = field(default_factory=SequentialIds)
    secrets: PredictableSecrets = field(default_factory=PredictableSecrets)
    secret_hasher: PlainSecretHasher = field(default_factory=PlainSecretHasher)
    passwords: FakePasswordHasher = field(default_factory=FakePasswordHasher)
    images: FakeImageProcessor = field(default_factory=FakeImageProcessor)
    storage: FakeObjectStorage = field(default_factory=FakeObjectStorage)

    def __post_init__(self) -> None:
        self.uow_factory = InMemoryUnitOfWorkFactory(self.store)
        self.tokens = FakeTokenIssuer(self.clock)
        self.limiter = FakeRateLimiter(self.clock)
        self.revocations = FakeSessionRevocations(self.clock)

    # -- use cases -------------------------------------------------------------------------
    def start_registration(self) -> StartRegistration:
        return StartRegistration(
            self.uow_factory,
            self.limiter,
            self.secrets,
            self.secret_hasher,
            self.ids,
            self.clock,
            self.policy,
        )

    def verify_registration(self) -> VerifyRegistration:
        return VerifyRegistration(
            self.uow_factory, self.secret_hasher, self.tokens, self.ids, self.clock
        )

    def initialize_user(self) -> InitializeUser:
        return InitializeUser(self.uow_factory, self.passwords, self.tokens, self.clock)

    def login(self) -> Login:
        return Login(
            self.uow_factory,
            self.passwords,
            self.tokens,
            self.limiter,
            self.ids,
            self.clock,
            self.policy,
        )

    def logout(self) -> Logout:
        return Logout(self.uow_factory, self.revocations, self.clock)

    def refresh_token(self) -> RefreshToken:
        return RefreshToken(self.uow_factory, self.tokens, self.clock)

    def authenticate(self) -> AuthenticateAccessToken:
        return AuthenticateAccessToken(
            self.tokens, self.revocations, InMemorySessionDirectory(self.store)
        )

    def start_password_reset(self) -> StartPasswordReset:
        return StartPasswordReset(
            self.uow_factory,
            self.limiter,
            self.secrets,
            self.secret_hasher,
            self.ids,
            self.clock,
            self.policy,
        )

    def verify_password_reset(self) -> VerifyPasswordReset:
        return VerifyPasswordReset(
            self.uow_factory, self.secrets, self.secret_hasher, self.ids, self.clock, self.policy
        )

    def reset_password(self) -> ResetPassword:
        return ResetPassword(
            self.uow_factory, self.secret_hasher, self.passwords, self.revocations, self.clock
        )

    def get_user(self) -> GetUser:
        return GetUser(InMemoryAccountReader(self.uow_factory.store))

    def update_user_name(self) -> UpdateUserName:
        return UpdateUserName(self.uow_factory, self.clock)

    def update_user_password(self) -> UpdateUserPassword:
        return UpdateUserPassword(
            self.uow_factory,
            self.passwords,
            self.revocations,
            self.limiter,
            self.clock,
            self.policy,
        )

    def update_user_avatar(self) -> UpdateUserAvatar:
        return UpdateUserAvatar(self.uow_factory, self.images, self.storage, self.ids, self.clock)

    def delete_user(self) -> DeleteUser:
        return DeleteUser(self.uow_factory, self.revocations, self.clock)

    # -- shortcuts -------------------------------------------------------------------------
    async def sign_up(
        self, email: str, password: str | None = "correct horse battery", ip: str = "10.0.0.1"
    ) -> SignedIn:
        """Register through the real use cases; with a password, initialise the account too."""
        started = await self.start_registration()(StartRegistrationCommand(email, ip))
        signed_in = await self.verify_registration()(
            VerifyRegistrationCommand(email, self.secrets.last_code, started.token, ip)
        )
        if password is None:
            return signed_in
        claims = self.tokens.read(signed_in.token)
        return await self.initialize_user()(
            InitializeUserCommand(claims.user_id, claims.session_id, password, "UTC")
        )

    def user_by_email(self, email: str) -> User:
        return next(u for u in self.store.users.values() if u.email == email)

    def session_of(self, token: str) -> Session:
        return self.store.sessions[self.tokens.read(token, allow_expired=True).session_id]


def make_identity_kit(**policy_overrides: Any) -> IdentityKit:
    return IdentityKit(policy=IdentityPolicy(FRONTEND_URL, **policy_overrides))
