"""Engines answer readiness pings and configure SQLite for safe concurrent use."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import create_engine, ping


async def test_ping_succeeds_on_a_reachable_database(engine: AsyncEngine) -> None:
    await ping(engine)


async def test_ping_raises_when_the_database_is_unreachable() -> None:
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/astra", pool_size=1)
    try:
        with pytest.raises(OSError):
            await ping(engine)
    finally:
        await engine.dispose()


async def test_sqlite_engine_creates_the_folder_and_enables_foreign_keys_and_wal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "does" / "not" / "exist" / "astra.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as connection:
            foreign_keys = await connection.scalar(text("PRAGMA foreign_keys"))
            journal_mode = await connection.scalar(text("PRAGMA journal_mode"))
            busy_timeout = await connection.scalar(text("PRAGMA busy_timeout"))
    finally:
        await engine.dispose()

    assert path.parent.is_dir()
    assert foreign_keys == 1
    assert journal_mode == "wal"
    assert busy_timeout == 5000
