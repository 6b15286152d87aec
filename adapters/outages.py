"""The one answer to "did this fail because the database or Redis is down (retry later)?".

Both the SQL adapters (which turn such failures into the domain's `Unavailable`) and the HTTP
error table (which answers 503 `14` with `Retry-After` for whatever escaped unwrapped) ask
`is_dependency_outage`, so the two can never disagree about what counts as an outage.

Drivers report one outage in many shapes: SQLAlchemy wraps driver errors (`.orig`), asyncpg
raises its own errors unwrapped while connecting (SQLAlchemy only wraps the DBAPI's classes),
and adapters re-raise with `from`. So the whole chain (`.orig`, `__cause__`, `__context__`)
is walked and the failure counts as an outage when any link does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import asyncpg
from redis import exceptions as redis_exceptions
from sqlalchemy import exc as sa_exc

# SQLSTATE classes and codes that mean "this connection cannot be used now": 08 connection
# exceptions; 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting
# up, shutting down, in recovery), 57P04 database dropped, 57P05 idle session timeout; 53300
# too many connections. Duck-typed on `sqlstate`/`pgcode` so SQLAlchemy's adapted errors and
# any other PostgreSQL driver are recognised too.
_OUTAGE_SQLSTATE_PREFIXES = ("08", "57P0", "53300")

_ASYNCPG_OUTAGES: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
)

# `ConnectionError` covers refused/reset links, `BusyLoadingError` (Redis loading its data
# set after a restart), `MaxConnectionsError` and the pool's "No connection available";
# the others are what a Redis answers while a failover is under way.
_REDIS_OUTAGES: tuple[type[BaseException], ...] = (
    redis_exceptions.ConnectionError,
    redis_exceptions.TimeoutError,
    redis_exceptions.ReadOnlyError,
    redis_exceptions.TryAgainError,
    redis_exceptions.ClusterDownError,
)

_DRIVER_OUTAGES = _REDIS_OUTAGES + _ASYNCPG_OUTAGES

# SQLite's transient conditions (another writer holds the lock, the file cannot be opened or
# written right now). Its other `OperationalError`s ("no such table", syntax errors) are bugs
# or a missing migration, and answering them "retry later" would hide them.
_SQLITE_TRANSIENT = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_NOMEM",
    "SQLITE_PROTOCOL",
)
_SQLITE_TRANSIENT_MESSAGES = ("database is locked", "database table is locked")

# A chain longer than this is not a real exception chain; stop rather than loop.
_MAX_LINKS = 32


def is_dependency_outage(error: BaseException) -> bool:
    """True when `error` means the database or Redis cannot be reached or used right now."""
    if isinstance(error, BaseExceptionGroup):
        # A group is an outage only when every member is one: a bug beside an outage is a bug.
        return bool(error.exceptions) and all(is_dependency_outage(e) for e in error.exceptions)
    return any(_is_outage_link(link) for link in _chain(error))


def _chain(error: BaseException) -> Iterator[BaseException]:
    pending = [error]
    seen: set[int] = set()
    while pending and len(seen) < _MAX_LINKS:
        link = pending.pop()
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        # SQLAlchemy keeps the driver's exception in `.orig`.
        orig = getattr(link, "orig", None)
        nexts: list[object] = [orig, link.__cause__]
        # `raise ... from None` says the context is irrelevant; respect that.
        if not link.__suppress_context__:
            nexts.append(link.__context__)
        pending.extend(n for n in nexts if isinstance(n, BaseException))


def _is_outage_link(link: BaseException) -> bool:
    if isinstance(link, _DRIVER_OUTAGES):
        return True
    if isinstance(link, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        # The pool had no free connection within `pool_timeout`, or a pool event refused one.
        return True
    if isinstance(link, sa_exc.DBAPIError) and link.connection_invalidated:
        return True
    if isinstance(link, sa_exc.InterfaceError):
        return True
    if isinstance(link, sa_exc.OperationalError):
        # PEP 249: failures of the database's operation, not of the statement. SQLite files
        # its programming errors here too; those are told apart on the wrapped error.
        return not isinstance(link.orig, sqlite3.Error) or _is_sqlite_transient(link.orig)
    if isinstance(link, sqlite3.OperationalError):
        return _is_sqlite_transient(link)
    if isinstance(link, asyncpg.exceptions.InterfaceError):
        # asyncpg's client-side errors are mostly misuse; a closed connection is not.
        return "connection is closed" in str(link)
    if _has_outage_sqlstate(link):
        return True
    # Refused, reset, unreachable, DNS failures and connect/read timeouts (asyncio's
    # TimeoutError is the builtin one); asyncpg raises these unwrapped while connecting.
    return isinstance(link, OSError)


def _has_outage_sqlstate(link: BaseException) -> bool:
    for attribute in ("sqlstate", "pgcode"):
        code = getattr(link, attribute, None)
        if isinstance(code, str) and code.startswith(_OUTAGE_SQLSTATE_PREFIXES):
            return True
    return False


def _is_sqlite_transient(error: BaseException) -> bool:
    name = getattr(error, "sqlite_errorname", None)
    if isinstance(name, str):
        # Extended codes carry the primary one as prefix, e.g. SQLITE_BUSY_SNAPSHOT.
        return name.startswith(_SQLITE_TRANSIENT)
    return any(message in str(error) for message in _SQLITE_TRANSIENT_MESSAGES)
