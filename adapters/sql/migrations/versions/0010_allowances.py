"""Credit allowances: a replica's block of a tenant's credits, spent turn by turn on the turns'
own rows (see docs/ledger.md).

Revision ID: 0010_allowances
Revises: 0009_oauth_attempts
Create Date: 2026-12-03 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_allowances"
down_revision: str | None = "0009_oauth_attempts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WITH_ALLOWANCE = sa.text("allowance_key IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("credit_reservations") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="charge")
        )
        batch.add_column(sa.Column("allowance_key", sa.Text(), nullable=True))
    # Closing an allowance sums the turns spent from it.
    op.create_index(
        "ix_credit_reservations_allowance_key",
        "credit_reservations",
        ["allowance_key"],
        postgresql_where=WITH_ALLOWANCE,
        sqlite_where=WITH_ALLOWANCE,
    )


def downgrade() -> None:
    op.drop_index("ix_credit_reservations_allowance_key", table_name="credit_reservations")
    with op.batch_alter_table("credit_reservations") as batch:
        batch.drop_column("allowance_key")
        batch.drop_column("kind")
