"""Request-scoped dependencies: the container and the authenticated caller."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from application.common.caller import Caller
from application.identity.commands import Principal
from domain.errors import Unauthenticated
from entrypoints.container import Container
from entrypoints.http.request_id import note_tenant

API_KEY_PREFIX = "sk_live_"

# Handler parameter types: the composition root's container, and the authenticated caller.
Deps = NamedDependency[Container]
PrincipalDep = NamedDependency[Principal]


async def provide_container(state: State) -> Container:
    container: NamedDependency[Container] = state.container
    return container


def bearer_credential(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthenticated("missing or malformed Authorization header")
    return credential.strip()


async def provide_principal(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> Principal:
    """A signed-in person (TOKEN credential); other credential kinds are refused here.

    Depending on `container` (rather than on `state` beside it) puts the two dependencies in
    sequence: Litestar resolves dependencies of one level in an anyio task group, which cost
    ~10% of a simple authenticated read.
    """
    credential = bearer_credential(request)
    if credential.startswith(API_KEY_PREFIX):
        raise Unauthenticated("this endpoint needs a user access token")
    return await container.identity.authenticate(credential)


def client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def _is_internal_key(credential: str, configured: tuple[str, ...]) -> bool:
    # Compare against every key in constant time, so timing tells nothing about which matched.
    matched = False
    for key in configured:
        matched |= hmac.compare_digest(credential.encode(), key.encode())
    return matched


async def provide_caller(request: Request[Any, Any, Any], container: Deps) -> Caller:
    """Any credential kind (§1.2): a user token, a tenant API key or an internal key."""
    credential = bearer_credential(request)
    if credential.startswith(API_KEY_PREFIX):
        caller = await container.api_keys.authenticate(credential)
        note_tenant(request.scope, caller.tenant_id)
        return caller
    if _is_internal_key(credential, container.settings.internal_api_keys):
        return Caller.internal()
    principal = await container.identity.authenticate(credential)
    return Caller.token(principal.user_id, principal.session_id)


async def provide_internal_caller(request: Request[Any, Any, Any], container: Deps) -> Caller:
    """`/…/internal/v1/…`: only a configured internal key (none configured → all refused)."""
    credential = bearer_credential(request)
    if not _is_internal_key(credential, container.settings.internal_api_keys):
        raise Unauthenticated("this endpoint needs an internal API key")
    return Caller.internal()


CallerDep = NamedDependency[Caller]
ANY_CREDENTIAL = {"caller": Provide(provide_caller)}
INTERNAL_CREDENTIAL = {"caller": Provide(provide_internal_caller)}
