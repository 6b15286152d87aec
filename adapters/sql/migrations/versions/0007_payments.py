"""Payments: who bills a subscription, provider events, local checkout pages; month grants
keyed without the plan.

Revision ID: 0007_payments
Revises: 0006_hold_deadlines
Create Date: 2026-12-02 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0007_payments"
down_revision: str | None = "0006_hold_deadlines"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)
JSON_TYPE = sa.JSON().with_variant(JSONB(), "postgresql")
RECEIVED = sa.text("status = 'received'")


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("provider", sa.String(16), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("customer_ref", sa.String(255), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("subscription_ref", sa.String(255), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("scheduled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("scheduled_plan", sa.String(32), nullable=True))
        batch.add_column(sa.Column("scheduled_period", sa.String(16), nullable=True))
    op.create_index(
        op.f("ix_subscriptions_subscription_ref"), "subscriptions", ["subscription_ref"]
    )
    op.create_table(
        "payment_events",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("payload", JSON_TYPE, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("received_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("next_attempt_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("applied_at", UTC_TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "status IN ('received', 'applied', 'parked')", name=op.f("ck_payment_events_status")
        ),
    )
    op.create_index(
        "ix_payment_events_received_next_attempt_at",
        "payment_events",
        ["next_attempt_at"],
        postgresql_where=RECEIVED,
        sqlite_where=RECEIVED,
    )
    op.create_table(
        "local_checkouts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("lines", JSON_TYPE, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("expires_at", UTC_TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_local_checkouts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_local_checkouts_tenant_id"), "local_checkouts", ["tenant_id"])
    _rekey_month_grants()


def _rekey_month_grants() -> None:
    """`period:<plan>:<start>` → `period:<start>`: one grant per month whatever the plan.

    Plan names and tenant ids hold no colon, so the start is everything after the second.
    """
    grants = sa.table("credit_grants", sa.column("id", sa.String), sa.column("grant_key", sa.Text))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(grants.c.id, grants.c.grant_key).where(grants.c.grant_key.like("period:%:%:%"))
    ).all()
    for grant_id, key in rows:
        parts = key.split(":", 2)
        if len(parts) == 3 and not _is_moment(key.removeprefix("period:")):
            op.execute(
                grants.update()
                .where(grants.c.id == grant_id)
                .values(grant_key=f"period:{parts[2]}")
            )


def _is_moment(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def downgrade() -> None:
    op.drop_index("ix_local_checkouts_tenant_id", table_name="local_checkouts")
    op.drop_table("local_checkouts")
    op.drop_index("ix_payment_events_received_next_attempt_at", table_name="payment_events")
    op.drop_table("payment_events")
    op.drop_index("ix_subscriptions_subscription_ref", table_name="subscriptions")
    with op.batch_alter_table("subscriptions") as batch:
        for column in (
            "scheduled_period",
            "scheduled_plan",
            "scheduled",
            "subscription_ref",
            "customer_ref",
            "provider",
        ):
            batch.drop_column(column)
