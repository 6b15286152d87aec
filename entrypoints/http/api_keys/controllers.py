"""API key endpoints (contract §3 "API keys"): thin translation to the use cases."""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody

from application.tenancy.api_key_commands import (
    CreateApiKeyCommand,
    DeleteApiKeyCommand,
    ListApiKeysCommand,
)
from entrypoints.http.api_keys.schemas import (
    ApiKeyBody,
    ApiKeyCreateRequest,
    ApiKeyCreateResponse,
    ApiKeyListResponse,
)
from entrypoints.http.conventions import EmptyResponse
from entrypoints.http.dependencies import ANY_CREDENTIAL, CallerDep, Deps


class ApiKeyController(Controller):
    path = "/account/v1/tenant/api-keys"
    tags = ["AccountService"]
    # Every credential kind is authenticated (a bad key is 16); the use cases then refuse
    # anything but a signed-in owner or admin with 7.
    dependencies = ANY_CREDENTIAL

    @post("", operation_id="ApiKeyCreate", status_code=200)
    async def create_api_key(
        self, data: JSONBody[ApiKeyCreateRequest], container: Deps, caller: CallerDep
    ) -> ApiKeyCreateResponse:
        created = await container.api_keys.create(
            CreateApiKeyCommand(
                caller=caller, name=data.name, scopes=data.scopes, expires_at=data.expires_at
            )
        )
        return ApiKeyCreateResponse(api_key=ApiKeyBody.of(created.api_key), secret=created.secret)

    @get("", operation_id="ApiKeyList")
    async def list_api_keys(self, container: Deps, caller: CallerDep) -> ApiKeyListResponse:
        keys = await container.api_keys.list(ListApiKeysCommand(caller=caller))
        return ApiKeyListResponse(api_keys=[ApiKeyBody.of(key) for key in keys])

    @delete("/{id:str}", operation_id="ApiKeyDelete", status_code=200)
    async def delete_api_key(
        self,
        id: FromPath[str],  # the contract names the path parameter `id`
        container: Deps,
        caller: CallerDep,
    ) -> EmptyResponse:
        await container.api_keys.delete(DeleteApiKeyCommand(caller=caller, key_id=id))
        return EmptyResponse()
