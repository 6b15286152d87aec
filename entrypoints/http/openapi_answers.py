"""What the OpenAPI document says about answers other than success and about credentials.

Litestar documents errors as its own `{status_code, detail, extra}` and only 400; Astra
answers every error as `{code, message}` (`entrypoints/http/errors.py`). Here every
operation gets the one `Error` schema on each error status the error table can produce, and
the bearer credential kinds it accepts (contract §1.2) as `security`.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Components, SecurityScheme
from litestar.routes import HTTPRoute

from domain.errors import ErrorCode
from entrypoints.http.dependencies import (
    provide_caller,
    provide_internal_caller,
    provide_principal,
)
from entrypoints.http.errors import HTTP_STATUS


class Error(msgspec.Struct):
    """Every error answer (contract §1.4): `code` is the StatusCode enum."""

    code: Annotated[int, msgspec.Meta(description="StatusCode (contract §1.4)", examples=[5])]
    message: Annotated[str, msgspec.Meta(examples=["agent not found"])]


_DESCRIPTIONS = {
    ErrorCode.INVALID_ARGUMENT: "invalid argument (3): malformed or out-of-range input",
    ErrorCode.NOT_FOUND: "not found (5)",
    ErrorCode.ALREADY_EXISTS: "already exists (6), e.g. an Idempotency-Key of another request",
    ErrorCode.PERMISSION_DENIED: "permission denied (7): role or scope too small",
    ErrorCode.RESOURCE_EXHAUSTED: "a limit refused it (8); retry after `Retry-After`",
    ErrorCode.FAILED_PRECONDITION: "failed precondition (9), e.g. insufficient credits",
    ErrorCode.UNIMPLEMENTED: "not implemented (12), e.g. a provider that is not configured",
    ErrorCode.INTERNAL: "internal error (13)",
    ErrorCode.UNAVAILABLE: "a dependency is unavailable (14); retry after `Retry-After`",
    ErrorCode.UNAUTHENTICATED: "unauthenticated (16): missing, invalid or wrong-kind credential",
}

TOKEN, API_KEY, INTERNAL = "TOKEN", "API_KEY", "INTERNAL"
SECURITY_SCHEMES: dict[str, SecurityScheme | Any] = {
    TOKEN: SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="JWT",
        description="A user's access token (15 minutes; renewed with the refresh token).",
    ),
    API_KEY: SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="sk_live_…",
        description="A tenant's API key; acts on its tenant within its scopes.",
    ),
    INTERNAL: SecurityScheme(
        type="http",
        scheme="bearer",
        description="An internal key (ASTRA_INTERNAL_API_KEYS), for `/…/internal/v1/…` only.",
    ),
}
COMPONENTS = Components(security_schemes=SECURITY_SCHEMES)


# Only an operation that takes a credential can refuse one.
_CREDENTIAL_CODES = (ErrorCode.UNAUTHENTICATED, ErrorCode.PERMISSION_DENIED)


def _error_responses(*, with_credential: bool) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(data_container=Error, description=_DESCRIPTIONS[code])
        for code, status in HTTP_STATUS.items()
        if with_credential or code not in _CREDENTIAL_CODES
    }


def _credential_kinds(handler: HTTPRouteHandler) -> list[dict[str, list[str]]] | None:
    providers = {provide.dependency for provide in handler.resolve_dependencies().values()}
    if provide_internal_caller in providers:
        return [{INTERNAL: []}]
    if provide_caller in providers:
        return [{TOKEN: []}, {API_KEY: []}]
    if provide_principal in providers:
        return [{TOKEN: []}]
    return None


def document_answers(app: Litestar) -> None:
    """Give every operation of `app` its error answers and credential kinds (before the
    OpenAPI document is first built, which happens on its first request)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            kinds = _credential_kinds(handler)
            errors = _error_responses(with_credential=kinds is not None)
            handler.responses = {**errors, **(handler.responses or {})}
            if kinds is not None and handler.security is None:
                handler.security = kinds
