"""The API key use cases wired to the in-memory unit of work, a fixed clock and fake secrets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from adapters.memory.api_key_cache import MemoryApiKeyCache
from adapters.memory.uow import InMemoryStore, InMemoryUnitOfWorkFactory
from application.common.caller import Caller
from application.tenancy.api_key_commands import CreateApiKeyCommand, CreatedApiKey
from application.tenancy.api_keys import (
    AuthenticateApiKey,
    CreateApiKey,
    DeleteApiKey,
    ListApiKeys,
)
from domain.tenancy.models import Role
from tests.fakes.clock import FixedClock
from tests.fakes.factories import make_membership, make_tenant, make_user
from tests.fakes.ids import PredictableSecrets, SequentialIds
from tests.fakes.security import PlainSecretHasher


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class ApiKeyKit:
    clock: FixedClock = field(default_factory=FixedClock)
    store: InMemoryStore = field(default_factory=InMemoryStore)
    ids: SequentialIds = field(default_factory=lambda: SequentialIds("key"))
    secrets: PredictableSecrets = field(default_factory=PredictableSecrets)
    hasher: PlainSecretHasher = field(default_factory=PlainSecretHasher)
    monotonic: FakeMonotonic = field(default_factory=FakeMonotonic)

    def __post_init__(self) -> None:
        self.uow_factory = InMemoryUnitOfWorkFactory(self.store)
        self.cache = MemoryApiKeyCache(monotonic=self.monotonic)
        self.create = CreateApiKey(
            self.uow_factory, self.ids, self.secrets, self.hasher, self.clock
        )
        self.list = ListApiKeys(self.uow_factory)
        self.delete = DeleteApiKey(self.uow_factory, self.cache)
        self.authenticate = AuthenticateApiKey(
            self.uow_factory, self.hasher, self.cache, self.clock
        )

    async def member(self, role: Role, tenant_id: str | None = None) -> tuple[Caller, str]:
        """A signed-in user whose current tenant is `tenant_id` (a new tenant by default)."""
        async with self.uow_factory() as uow:
            if tenant_id is None:
                tenant = make_tenant()
                await uow.tenants.add(tenant)
                tenant_id = tenant.id
            user = make_user(current_tenant_id=tenant_id)
            await uow.users.add(user)
            await uow.memberships.add(
                make_membership(tenant_id=tenant_id, user_id=user.id, role=role)
            )
            await uow.commit()
        return Caller.token(user.id, "session"), tenant_id

    async def new_key(
        self,
        caller: Caller,
        name: str = "Zapier",
        scopes: list[str] | None = None,
        expires_at: str = "",
    ) -> CreatedApiKey:
        command = CreateApiKeyCommand(caller, name, scopes or ["chat:write"], expires_at)
        return await self.create(command)


async def owner_kit() -> tuple[ApiKeyKit, Caller, str]:
    """A kit with one tenant and its signed-in owner."""
    kit = ApiKeyKit()
    owner, tenant_id = await kit.member(Role.OWNER)
    return kit, owner, tenant_id


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
