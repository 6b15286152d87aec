"""`is_dependency_outage`: one answer for the adapters and the HTTP error table."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest
from redis import exceptions as redis_exceptions
from sqlalchemy import exc as sa_exc

from adapters.outages import is_dependency_outage


def wrapped(
    orig: BaseException, kind: type[sa_exc.DBAPIError] = sa_exc.OperationalError
) -> sa_exc.DBAPIError:
    return kind("SELECT 1", {}, orig)


def caused_by(error: BaseException, cause: BaseException) -> BaseException:
    error.__cause__ = cause
    return error


def raised_from_none(context: BaseException) -> BaseException:
    """`raise KeyError(...) from None` inside an `except` for `context`."""
    try:
        try:
            raise context
        except BaseException:
            raise KeyError("not found") from None
    except KeyError as error:
        return error


def sqlite_error(message: str, name: str | None) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    if name is not None:
        error.sqlite_errorname = name
    return error


@pytest.mark.parametrize(
    "error",
    [
        # asyncpg raises these unwrapped while connecting (starting up, shutting down).
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.TooManyConnectionsError("too many clients"),
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
        sa_exc.TimeoutError("QueuePool limit reached"),
        wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("closed"), sa_exc.DBAPIError),
        wrapped(sqlite_error("database is locked", "SQLITE_BUSY")),
        wrapped(sqlite_error("database is locked", None)),
        redis_exceptions.ConnectionError("refused"),
        redis_exceptions.MaxConnectionsError("Too many connections"),
        redis_exceptions.TimeoutError("Timeout reading from socket"),
        redis_exceptions.BusyLoadingError("loading"),
        # An adapter's own error raised over a dropped connection.
        caused_by(RuntimeError("lookup failed"), ConnectionResetError()),
        ExceptionGroup("both", [ConnectionRefusedError(), redis_exceptions.ConnectionError()]),
    ],
    ids=lambda error: type(error).__name__,
)
def test_connection_level_failures_are_outages(error: BaseException) -> None:
    assert is_dependency_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad input"),
        wrapped(sqlite_error("no such table: users", "SQLITE_ERROR")),
        wrapped(asyncpg.exceptions.UniqueViolationError("duplicate"), sa_exc.IntegrityError),
        wrapped(asyncpg.exceptions.UndefinedTableError("missing"), sa_exc.ProgrammingError),
        redis_exceptions.ResponseError("WRONGTYPE"),
        # `from None` says the connection failure underneath is not the reason.
        raised_from_none(ConnectionResetError()),
        ExceptionGroup("mixed", [ConnectionRefusedError(), ValueError("bug")]),
    ],
    ids=lambda error: type(error).__name__,
)
def test_bugs_and_statement_errors_are_not_outages(error: BaseException) -> None:
    assert not is_dependency_outage(error)
