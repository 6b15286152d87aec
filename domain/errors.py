"""Domain and application errors, each carrying a stable contract code."""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    """The contract's error codes (§1.4); HTTP statuses are mapped at the edge."""

    INVALID_ARGUMENT = 3
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    UNAUTHENTICATED = 16


class AstraError(Exception):
    """Base of every expected failure; the message is safe to show to clients."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class InvalidArgument(AstraError):
    code = ErrorCode.INVALID_ARGUMENT

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class NotFound(AstraError):
    code = ErrorCode.NOT_FOUND


class AlreadyExists(AstraError):
    code = ErrorCode.ALREADY_EXISTS


class PermissionDenied(AstraError):
    code = ErrorCode.PERMISSION_DENIED


class ResourceExhausted(AstraError):
    code = ErrorCode.RESOURCE_EXHAUSTED


class FailedPrecondition(AstraError):
    code = ErrorCode.FAILED_PRECONDITION


class Unimplemented(AstraError):
    code = ErrorCode.UNIMPLEMENTED


class Unavailable(AstraError):
    code = ErrorCode.UNAVAILABLE


class Unauthenticated(AstraError):
    code = ErrorCode.UNAUTHENTICATED
