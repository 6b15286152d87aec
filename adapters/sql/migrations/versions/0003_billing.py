"""Billing: subscription plans (seeded with the default plans), subscriptions, credit ledger.

Revision ID: 0003_billing
Revises: 0002_tenancy
Create Date: 2025-01-03 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from domain.billing.plans import default_plans

revision: str = "0003_billing"
down_revision: str | None = "0002_tenancy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Hand-written with plain SQLAlchemy types so the revision never changes with the models.
UTC_TIMESTAMP = sa.DateTime(timezone=True)
JSON_VALUE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
PLANS = "'FREE', 'PRO', 'BUSINESS', 'CUSTOM', 'NEW_USER_TRIAL', 'BYOA_USER_TRIAL'"
PERIODS = "'NOT_DEFINE', 'MONTHLY', 'YEARLY'"
SUBSCRIPTION_STATUSES = "'NO_SUBSCRIPTION', 'SUB_ACTIVE', 'SUB_DISABLE', 'SUB_EXPIRED'"
GRANT_SOURCES = "'TRIAL', 'PERIOD', 'ADDON', 'ADJUSTMENT'"
RESERVATION_STATUSES = "'RESERVED', 'SETTLED', 'RELEASED'"

# The plans table as this revision creates it, for the seed below.
plans_table = sa.table(
    "subscription_plans",
    sa.column("plan_name", sa.String(64)),
    sa.column("description", sa.String(1000)),
    sa.column("usage_configs", JSON_VALUE),
    sa.column("credit_extension_days", sa.Integer()),
    sa.column("created_at", UTC_TIMESTAMP),
    sa.column("updated_at", UTC_TIMESTAMP),
)


def upgrade() -> None:
    op.create_table(
        "subscription_plans",
        sa.Column("plan_name", sa.String(64), nullable=False),
        sa.Column("description", sa.String(1000), nullable=False),
        sa.Column("usage_configs", JSON_VALUE, nullable=False),
        sa.Column("credit_extension_days", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("plan_name", name=op.f("pk_subscription_plans")),
    )
    op.create_table(
        "subscriptions",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("plan", sa.String(32), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("start_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("end_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("trial", sa.Boolean(), nullable=False),
        sa.CheckConstraint(f"plan IN ({PLANS})", name=op.f("ck_subscriptions_plan")),
        sa.CheckConstraint(f"period IN ({PERIODS})", name=op.f("ck_subscriptions_period")),
        sa.CheckConstraint(
            f"status IN ({SUBSCRIPTION_STATUSES})", name=op.f("ck_subscriptions_status")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_subscriptions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_subscriptions")),
    )
    op.create_index(op.f("ix_subscriptions_plan"), "subscriptions", ["plan"])
    op.create_table(
        "credit_grants",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("expires_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("grant_key", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint("remaining >= 0", name=op.f("ck_credit_grants_remaining_not_negative")),
        sa.CheckConstraint(
            "remaining <= amount", name=op.f("ck_credit_grants_remaining_within_amount")
        ),
        sa.CheckConstraint(f"source IN ({GRANT_SOURCES})", name=op.f("ck_credit_grants_source")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_credit_grants_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_grants")),
        sa.UniqueConstraint(
            "tenant_id", "grant_key", name=op.f("uq_credit_grants_tenant_id_grant_key")
        ),
    )
    op.create_index(
        "ix_credit_grants_tenant_id_expires_at", "credit_grants", ["tenant_id", "expires_at"]
    )
    op.create_table(
        "credit_reservations",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("settled_amount", sa.BigInteger(), nullable=False),
        sa.Column("allocations", JSON_VALUE, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("resolved_at", UTC_TIMESTAMP, nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_reservations_amount_positive")),
        sa.CheckConstraint(
            "settled_amount >= 0 AND settled_amount <= amount",
            name=op.f("ck_credit_reservations_settled_within_amount"),
        ),
        sa.CheckConstraint(
            f"status IN ({RESERVATION_STATUSES})", name=op.f("ck_credit_reservations_status")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_credit_reservations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_credit_reservations")),
    )
    op.create_index(
        "ix_credit_reservations_tenant_id_resolved_at",
        "credit_reservations",
        ["tenant_id", "resolved_at"],
    )
    seed_default_plans(op.get_bind())


def seed_default_plans(connection: sa.Connection) -> None:
    """Insert the default plans that are missing; existing rows (maybe edited) stay as they are.

    The definitions live in the domain (`default_plans`), so they are written down once.
    """
    now = datetime.now(UTC)
    present = set(connection.scalars(sa.select(plans_table.c.plan_name)))
    missing = [
        {
            "plan_name": plan.plan_name,
            "description": plan.description,
            "usage_configs": [
                {"category": config.category.value, "total_amount": config.total_amount}
                for config in plan.usage_configs
            ],
            "credit_extension_days": plan.credit_extension_days,
            "created_at": plan.created_at,
            "updated_at": plan.updated_at,
        }
        for plan in default_plans(now)
        if plan.plan_name not in present
    ]
    if missing:
        connection.execute(sa.insert(plans_table), missing)


def downgrade() -> None:
    op.drop_index("ix_credit_reservations_tenant_id_resolved_at", table_name="credit_reservations")
    op.drop_table("credit_reservations")
    op.drop_index("ix_credit_grants_tenant_id_expires_at", table_name="credit_grants")
    op.drop_table("credit_grants")
    op.drop_index(op.f("ix_subscriptions_plan"), table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_table("subscription_plans")
