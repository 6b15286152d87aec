"""Integration tests of the SQL adapters on PostgreSQL and SQLite."""
