"""Every credit hold has a deadline; recovery finds expired holds and pending replies.

Revision ID: 0006_hold_deadlines
Revises: 0005_chat
Create Date: 2026-12-02 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0006_hold_deadlines"
down_revision: str | None = "0005_chat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)
RESERVED = sa.text("status = 'RESERVED'")
PENDING = sa.text("status = 'pending'")
# Holds taken before deadlines existed get the default hold (domain.billing.ledger.DEFAULT_HOLD
# at the time of writing), so ones a crash left behind are recovered soon after the upgrade.
BACKFILL_HOLD = timedelta(minutes=10)


def upgrade() -> None:
    with op.batch_alter_table("credit_reservations") as batch:
        batch.add_column(sa.Column("expires_at", UTC_TIMESTAMP, nullable=True))
    reservations = sa.table(
        "credit_reservations",
        sa.column("created_at", UTC_TIMESTAMP),
        sa.column("expires_at", UTC_TIMESTAMP),
    )
    bind = op.get_bind()
    # Row by row in Python would be portable but slow; each dialect adds an interval its way.
    if bind.dialect.name == "postgresql":
        deadline = reservations.c.created_at + sa.text("interval '10 minutes'")
        op.execute(reservations.update().values(expires_at=deadline))
    else:
        rows = bind.execute(sa.select(reservations.c.created_at).distinct()).all()
        for (created_at,) in rows:
            op.execute(
                reservations.update()
                .where(reservations.c.created_at == created_at)
                .values(expires_at=created_at + BACKFILL_HOLD)
            )
    with op.batch_alter_table("credit_reservations") as batch:
        batch.alter_column("expires_at", existing_type=UTC_TIMESTAMP, nullable=False)
    op.create_index(
        "ix_credit_reservations_reserved_expires_at",
        "credit_reservations",
        ["expires_at"],
        postgresql_where=RESERVED,
        sqlite_where=RESERVED,
    )
    op.create_index(
        "ix_chat_messages_pending_created_at",
        "chat_messages",
        ["created_at"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_chat_messages_pending_created_at", table_name="chat_messages")
    op.drop_index(
        "ix_credit_reservations_reserved_expires_at", table_name="credit_reservations"
    )
    with op.batch_alter_table("credit_reservations") as batch:
        batch.drop_column("expires_at")
