"""Agents: agents, their versioned configs, intentions and leads.

Revision ID: 0004_agents
Revises: 0003_billing
Create Date: 2025-01-04 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_agents"
down_revision: str | None = "0003_billing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Hand-written with plain SQLAlchemy types so the revision never changes with the models.
UTC_TIMESTAMP = sa.DateTime(timezone=True)
JSON_VALUE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
EMAIL_SET = sa.text("email <> ''")
PHONE_SET = sa.text("phone <> ''")


def _agent_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["agent_id"],
        ["agents.id"],
        name=op.f(f"fk_{table}_agent_id_agents"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("template_id", sa.String(64), nullable=False),
        sa.Column("agent_type", sa.Text(), nullable=False),
        sa.Column("business_type", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("knowledge_base_ids", JSON_VALUE, nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agents_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
    )
    op.create_index(
        "ix_agents_tenant_id_created_at_id", "agents", ["tenant_id", "created_at", "id"]
    )
    op.create_table(
        "agent_config_versions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("config", JSON_VALUE, nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("model_known", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        _agent_fk("agent_config_versions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_config_versions")),
        sa.UniqueConstraint(
            "agent_id", "version", name=op.f("uq_agent_config_versions_agent_id_version")
        ),
    )
    op.create_table(
        "agent_intentions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_key", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("examples", JSON_VALUE, nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("collect_fields", JSON_VALUE, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        _agent_fk("agent_intentions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_intentions")),
        sa.UniqueConstraint(
            "agent_id", "name_key", name=op.f("uq_agent_intentions_agent_id_name_key")
        ),
    )
    op.create_table(
        "agent_leads",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("external_user_id", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("first_name", sa.Text(), nullable=False),
        sa.Column("last_name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("company", sa.Text(), nullable=False),
        sa.Column("intent", sa.Text(), nullable=False),
        sa.Column("lead_score", sa.Integer(), nullable=False),
        sa.Column("lead_summary", sa.Text(), nullable=False),
        sa.Column("attributes", JSON_VALUE, nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        _agent_fk("agent_leads"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_leads")),
    )
    op.create_index(
        "uq_agent_leads_tenant_id_agent_id_email",
        "agent_leads",
        ["tenant_id", "agent_id", "email"],
        unique=True,
        postgresql_where=EMAIL_SET,
        sqlite_where=EMAIL_SET,
    )
    op.create_index(
        "uq_agent_leads_tenant_id_agent_id_phone",
        "agent_leads",
        ["tenant_id", "agent_id", "phone"],
        unique=True,
        postgresql_where=PHONE_SET,
        sqlite_where=PHONE_SET,
    )
    op.create_index(
        "ix_agent_leads_tenant_id_agent_id_created_at",
        "agent_leads",
        ["tenant_id", "agent_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_agent_leads_tenant_id_agent_id_created_at", table_name="agent_leads")
    op.drop_index("uq_agent_leads_tenant_id_agent_id_phone", table_name="agent_leads")
    op.drop_index("uq_agent_leads_tenant_id_agent_id_email", table_name="agent_leads")
    op.drop_table("agent_leads")
    op.drop_table("agent_intentions")
    op.drop_table("agent_config_versions")
    op.drop_index("ix_agents_tenant_id_created_at_id", table_name="agents")
    op.drop_table("agents")
