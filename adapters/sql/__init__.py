"""SQL persistence (SQLAlchemy async + advanced-alchemy) for PostgreSQL and SQLite."""
