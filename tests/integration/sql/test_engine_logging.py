"""Database errors never carry the statement's parameters (chat text, key hashes, emails)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from adapters.sql.engine import create_engine

pytestmark = pytest.mark.integration

SECRET = "end-user-secret-text-42"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_failed_statement_hides_its_parameters(
    backend: str, database_url: str, tmp_path: object
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/hide.db" if backend == "sqlite" else database_url
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as raised:
                await connection.execute(
                    text("SELECT no_such_column FROM no_such_table WHERE x = :x"), {"x": SECRET}
                )
        assert SECRET not in str(raised.value)
        assert "hidden" in str(raised.value)  # SQLAlchemy says the parameters were left out
    finally:
        await engine.dispose()
