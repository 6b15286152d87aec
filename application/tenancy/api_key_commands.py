"""Inputs and outputs of the API key use cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from application.common.caller import Caller
from domain.tenancy.models import ApiKey


@dataclass(frozen=True, slots=True)
class CreateApiKeyCommand:
    caller: Caller
    name: str
    scopes: list[str]
    expires_at: str = ""  # RFC 3339; empty means the key never expires


@dataclass(frozen=True, slots=True)
class ListApiKeysCommand:
    caller: Caller


@dataclass(frozen=True, slots=True)
class DeleteApiKeyCommand:
    caller: Caller
    key_id: str


@dataclass(frozen=True, slots=True)
class ApiKeyView:
    """What a tenant sees of one of its keys: never the secret or its hash."""

    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyView:
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            scopes=sorted(key.scopes),
            created_at=key.created_at,
            expires_at=key.expires_at,
            last_used_at=key.last_used_at,
        )


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    api_key: ApiKeyView
    secret: str  # the whole credential `sk_live_<id>_<secret>`, shown only this once
