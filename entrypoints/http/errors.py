"""The one table from errors to the contract's `{code, message}` body and HTTP status."""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE
from litestar.types import ExceptionHandlersMap

from adapters.outages import is_dependency_outage
from domain.errors import AstraError, ErrorCode
from entrypoints.metrics import observe_error

logger = logging.getLogger("astra.http")

HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_ARGUMENT: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.ALREADY_EXISTS: 409,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.RESOURCE_EXHAUSTED: 429,
    ErrorCode.FAILED_PRECONDITION: 402,
    ErrorCode.UNIMPLEMENTED: 501,
    ErrorCode.INTERNAL: 500,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.UNAUTHENTICATED: 401,
}


def error_response(
    code: ErrorCode, message: str, *, retry_after: int | None = None
) -> Response[dict[str, Any]]:
    observe_error(int(code))
    headers = {"Retry-After": str(max(1, retry_after))} if retry_after is not None else None
    if code in (ErrorCode.RESOURCE_EXHAUSTED, ErrorCode.UNAVAILABLE) and headers is None:
        headers = {"Retry-After": "1"}
    return Response(
        content={"code": int(code), "message": message},
        status_code=HTTP_STATUS[code],
        media_type=MediaType.JSON,
        headers=headers,
    )


def _astra_error(_: Request[Any, Any, Any], exc: AstraError) -> Response[dict[str, Any]]:
    if exc.code is ErrorCode.INTERNAL and is_dependency_outage(exc):
        # An "internal" error raised over a dropped connection is still an outage to retry.
        return _outage(exc)
    if exc.code is ErrorCode.INTERNAL:
        logger.error("internal error", exc_info=exc)
        return error_response(ErrorCode.INTERNAL, "internal error")
    return error_response(exc.code, exc.message, retry_after=exc.retry_after)


def _validation_message(exc: ValidationException) -> str:
    """Name the offending field(s), e.g. `email: Expected `str`, got `int``."""
    problems: list[str] = []
    if isinstance(exc.extra, list):
        for item in exc.extra:
            if not isinstance(item, dict):
                continue
            message = str(item.get("message", "invalid value"))
            key = item.get("key")
            problems.append(f"{key}: {message}" if key else message)
    if not problems:
        detail = exc.detail or "invalid request"
        # Litestar reports unreadable bodies as "Validation failed for POST /path".
        problems.append("malformed JSON body" if "Validation failed" in detail else detail)
    return "; ".join(problems)


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    if isinstance(exc, ValidationException):
        return error_response(ErrorCode.INVALID_ARGUMENT, _validation_message(exc))
    if isinstance(exc, NotFoundException):
        return error_response(ErrorCode.NOT_FOUND, "not found")
    if isinstance(exc, MethodNotAllowedException):
        return error_response(ErrorCode.UNIMPLEMENTED, "method not allowed on this route")
    if (
        isinstance(exc, RequestEntityTooLarge)
        or exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE
    ):
        return error_response(ErrorCode.INVALID_ARGUMENT, "request body too large")
    if isinstance(exc, NotAuthorizedException):
        return error_response(ErrorCode.UNAUTHENTICATED, "authentication required")
    if isinstance(exc, PermissionDeniedException):
        return error_response(ErrorCode.PERMISSION_DENIED, "permission denied")
    if isinstance(exc, TooManyRequestsException):
        return error_response(ErrorCode.RESOURCE_EXHAUSTED, "too many requests")
    if exc.status_code < 500:
        return error_response(ErrorCode.INVALID_ARGUMENT, exc.detail or "invalid request")
    if is_dependency_outage(exc):
        return _outage(exc)
    logger.error("unhandled HTTP error", exc_info=exc)
    return error_response(ErrorCode.INTERNAL, "internal error")


def _outage(exc: BaseException) -> Response[dict[str, Any]]:
    """The database or Redis failed at connection level: 503 `14`, the caller may retry."""
    logger.warning("dependency unavailable: %s: %s", type(exc).__name__, exc)
    return error_response(ErrorCode.UNAVAILABLE, "a dependency is unavailable; retry later")


def _unhandled(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # One classifier for the adapters and this table, so they never disagree on an outage.
    if is_dependency_outage(exc):
        return _outage(exc)
    # The client learns nothing of the failure's internals; the log keeps the traceback.
    logger.error("unhandled exception", exc_info=exc)
    return error_response(ErrorCode.INTERNAL, "internal error")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    AstraError: _astra_error,
    HTTPException: _http_error,
    Exception: _unhandled,
}
