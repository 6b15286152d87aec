"""Alembic migrations of the SQL schema (run through `adapters.sql.migrate`)."""
