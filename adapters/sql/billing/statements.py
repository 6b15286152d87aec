"""Statements both dialects spell differently: INSERT … ON CONFLICT DO NOTHING."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

from sqlalchemy import CursorResult, Table, TextClause, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession


@lru_cache(maxsize=256)
def _insert_ignoring_conflicts(table: Table, columns: tuple[str, ...]) -> TextClause:
    """`INSERT … ON CONFLICT DO NOTHING` for these columns, built once.

    Both PostgreSQL and SQLite (≥ 3.24) spell it the same way. The dialect constructs
    (`postgresql.insert(...).on_conflict_do_nothing()`) are not cacheable in SQLAlchemy 2.0,
    so they were compiled again on every insert — the biggest single CPU cost of a chat
    turn. A text statement is compiled once; typed bind parameters keep each column's
    conversions (timestamps, JSON).
    """
    # Identifiers come only from our own table metadata (a key not in the table raises
    # here), never from request data; values travel as bind parameters.
    types = [table.columns[column].type for column in columns]
    names = ", ".join(columns)
    values = ", ".join(f":{column}" for column in columns)
    sql = f"INSERT INTO {table.name} ({names}) VALUES ({values}) ON CONFLICT DO NOTHING"  # noqa: S608
    return text(sql).bindparams(
        *(bindparam(column, type_=type_) for column, type_ in zip(columns, types, strict=True))
    )


async def insert_unless_present(session: AsyncSession, table: Table, row: dict[str, Any]) -> bool:
    """Insert `row`; False when a unique key already holds it.

    Unlike catching IntegrityError, the transaction stays usable on PostgreSQL. A concurrent
    uncommitted insert of the same key makes this wait for it, then do nothing if it commits.
    """
    statement = _insert_ignoring_conflicts(table, tuple(row))
    result = cast(CursorResult[Any], await session.execute(statement, row))
    return result.rowcount == 1


def rowcount(result: object) -> int:
    """Rows changed by an UPDATE or DELETE run through `AsyncSession.execute`."""
    return cast(CursorResult[Any], result).rowcount
