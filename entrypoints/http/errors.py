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
from redis import exceptions as redis_exceptions
from sqlalchemy import exc as sa_exc

from domain.errors import AstraError, ErrorCode

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
    logger.error("unhandled HTTP error", exc_info=exc)
    return error_response(ErrorCode.INTERNAL, "internal error")


def _is_dependency_outage(exc: BaseException) -> bool:
    """Connection-level failures of the database or Redis: the caller may retry later."""
    if isinstance(exc, (redis_exceptions.ConnectionError, redis_exceptions.TimeoutError)):
        return True
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (ConnectionError, TimeoutError))


def _unhandled(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if _is_dependency_outage(exc):
        logger.warning("dependency unavailable: %s", type(exc).__name__)
        return error_response(ErrorCode.UNAVAILABLE, "a dependency is unavailable; retry later")
    # The client learns nothing of the failure's internals; the log keeps the traceback.
    logger.error("unhandled exception", exc_info=exc)
    return error_response(ErrorCode.INTERNAL, "internal error")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    AstraError: _astra_error,
    HTTPException: _http_error,
    Exception: _unhandled,
}
