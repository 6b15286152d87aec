"""HTTP request and response bodies of the API key endpoints (contract §3, ApiKey in §2)."""

from __future__ import annotations

import msgspec

from application.tenancy.api_key_commands import ApiKeyView
from entrypoints.http.conventions import timestamp


class ApiKeyCreateRequest(msgspec.Struct):
    name: str = ""
    scopes: list[str] = []
    expires_at: str = ""


class ApiKeyBody(msgspec.Struct):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: str
    expires_at: str
    last_used_at: str

    @classmethod
    def of(cls, view: ApiKeyView) -> ApiKeyBody:
        return cls(
            id=view.id,
            name=view.name,
            prefix=view.prefix,
            scopes=view.scopes,
            created_at=timestamp(view.created_at),
            expires_at=timestamp(view.expires_at),
            last_used_at=timestamp(view.last_used_at),
        )


class ApiKeyCreateResponse(msgspec.Struct):
    api_key: ApiKeyBody
    secret: str


class ApiKeyListResponse(msgspec.Struct):
    api_keys: list[ApiKeyBody]
