"""Request-scoped dependencies: the container and the authenticated caller."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.datastructures import State

from application.identity.commands import Principal
from domain.errors import Unauthenticated

if TYPE_CHECKING:
    from entrypoints.container import Container

API_KEY_PREFIX = "sk_live_"


async def provide_container(state: State) -> Container:
    container: Container = state.container
    return container


def bearer_credential(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthenticated("missing or malformed Authorization header")
    return credential.strip()


async def provide_principal(request: Request[Any, Any, Any], state: State) -> Principal:
    """A signed-in person (TOKEN credential); other credential kinds are refused here."""
    credential = bearer_credential(request)
    if credential.startswith(API_KEY_PREFIX):
        raise Unauthenticated("this endpoint needs a user access token")
    container: Container = state.container
    return await container.identity.authenticate(credential)


def client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"
