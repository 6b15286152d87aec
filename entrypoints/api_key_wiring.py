"""Wires the API key use cases to the adapters the composition root picked."""

from __future__ import annotations

from dataclasses import dataclass

from application.common.ports import (
    Clock,
    IdGenerator,
    SecretGenerator,
    SecretHasher,
    UnitOfWorkFactory,
)
from application.tenancy.api_keys import (
    AuthenticateApiKey,
    CreateApiKey,
    DeleteApiKey,
    ListApiKeys,
)
from application.tenancy.ports import ApiKeyCache


@dataclass(frozen=True, slots=True)
class ApiKeyUseCases:
    create: CreateApiKey
    list: ListApiKeys
    delete: DeleteApiKey
    authenticate: AuthenticateApiKey


def wire_api_keys(
    *,
    uow: UnitOfWorkFactory,
    clock: Clock,
    ids: IdGenerator,
    secrets: SecretGenerator,
    secret_hasher: SecretHasher,
    cache: ApiKeyCache,
) -> ApiKeyUseCases:
    return ApiKeyUseCases(
        create=CreateApiKey(
            uow_factory=uow, ids=ids, secrets=secrets, secret_hasher=secret_hasher, clock=clock
        ),
        list=ListApiKeys(uow_factory=uow),
        delete=DeleteApiKey(uow_factory=uow, cache=cache),
        authenticate=AuthenticateApiKey(
            uow_factory=uow, secret_hasher=secret_hasher, cache=cache, clock=clock
        ),
    )
