"""Run the Alembic migrations programmatically (no alembic.ini) against a database URL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from adapters.sql.engine import create_engine

MIGRATIONS_FOLDER = Path(__file__).parent / "migrations"
# PostgreSQL advisory lock key taken while migrating: any fixed 64-bit number ("ASTRAMIG").
MIGRATION_LOCK = 0x41_53_54_52_41_4D_49_47


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at our scripts; `env.py` reuses `connection` when given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_FOLDER))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` up to `revision`.

    Safe to run from several processes at once on PostgreSQL (they take turns); within one
    process, do not run two migrations concurrently (Alembic's context is process-global).
    """
    await _run(url, lambda connection: command.upgrade(alembic_config(connection), revision))


async def downgrade(url: str, revision: str) -> None:
    """Migrate the database at `url` down to `revision` (`"base"` drops everything)."""
    await _run(url, lambda connection: command.downgrade(alembic_config(connection), revision))


async def _run(url: str, migrate: Callable[[Connection], None]) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # Batch mode rebuilds tables by copy-and-drop; with foreign keys on, dropping a
                # parent would cascade-delete its children. The pragma only works outside a
                # transaction, which pysqlite has not opened yet here.
                await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.run_sync(migrate)
            await connection.commit()
    finally:
        await engine.dispose()
