"""Before a process serves or works: can it reach its database and Redis? One line if not.

A wrong host, a missing database, a refused password or a Redis that is down otherwise
surfaces as a 40-to-110-line traceback from deep inside the first request or the lifespan.
Each failure here is one sentence naming the setting, the place (never a password) and
the cause, and the command exits 1.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from entrypoints.settings import Settings

PREFLIGHT_TIMEOUT_SECONDS = 10.0


class StartupError(RuntimeError):
    """A dependency the process needs cannot be used; the message is one line."""


def _where_database(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return f"SQLite file {parsed.database}"
    return f"PostgreSQL at {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"


def _where_redis(url: str) -> str:
    parsed = urlsplit(url)
    return f"Redis at {parsed.hostname or 'localhost'}:{parsed.port or 6379}"


def _cause(error: BaseException) -> str:
    """The root cause's first line, without the library's wrapping."""
    root: BaseException = error
    while getattr(root, "orig", None) is not None or root.__cause__ is not None:
        root = getattr(root, "orig", None) or root.__cause__  # type: ignore[assignment]
    if isinstance(root, TimeoutError):
        return "no answer in time"
    first = (str(root).strip().splitlines() or [type(root).__name__])[0]
    return first[:200]


async def check_database(settings: Settings) -> None:
    from sqlalchemy import text

    from adapters.sql.engine import create_engine

    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with asyncio.timeout(PREFLIGHT_TIMEOUT_SECONDS), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:
        raise StartupError(
            f"ASTRA_DATABASE_URL: cannot use the {_where_database(settings.database_url)}: "
            f"{_cause(error)}"
        ) from None
    finally:
        await engine.dispose()


async def check_redis(settings: Settings) -> None:
    if not settings.redis_url:
        return
    from adapters.redis.client import create_redis

    client = create_redis(settings.redis_url)
    try:
        async with asyncio.timeout(PREFLIGHT_TIMEOUT_SECONDS):
            await client.ping()
    except Exception as error:
        raise StartupError(
            f"ASTRA_REDIS_URL: cannot reach the {_where_redis(settings.redis_url)}: {_cause(error)}"
        ) from None
    finally:
        await client.aclose()


def preflight(settings: Settings) -> None:
    """Raise `StartupError` when the database or Redis cannot be used."""

    async def both() -> None:
        await check_database(settings)
        await check_redis(settings)

    asyncio.run(both())
