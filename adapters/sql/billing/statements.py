"""Statements both dialects spell differently: INSERT … ON CONFLICT DO NOTHING."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


async def insert_unless_present(session: AsyncSession, table: Table, row: dict[str, Any]) -> bool:
    """Insert `row`; False when a unique key already holds it.

    Unlike catching IntegrityError, the transaction stays usable on PostgreSQL. A concurrent
    uncommitted insert of the same key makes this wait for it, then do nothing if it commits.
    """
    if session.get_bind().dialect.name == "postgresql":
        statement: Any = postgresql.insert(table).values(row).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(table).values(row).on_conflict_do_nothing()
    result = cast(CursorResult[Any], await session.execute(statement))
    return result.rowcount == 1


def rowcount(result: object) -> int:
    """Rows changed by an UPDATE or DELETE run through `AsyncSession.execute`."""
    return cast(CursorResult[Any], result).rowcount
