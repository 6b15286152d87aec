"""Chat: conversations and their messages.

Revision ID: 0005_chat
Revises: 0004_agents
Create Date: 2025-01-05 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_chat"
down_revision: str | None = "0004_agents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Hand-written with plain SQLAlchemy types so the revision never changes with the models.
UTC_TIMESTAMP = sa.DateTime(timezone=True)
ROLES = "'user', 'assistant'"
STATUSES = "'pending', 'completed', 'aborted', 'failed'"
HAS_IDEMPOTENCY_KEY = sa.text("idempotency_key <> ''")


def upgrade() -> None:
    op.create_table(
        "chat_conversations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("external_user_id", sa.String(255), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("message_count", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_chat_conversations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_conversations")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_chat_conversations_tenant_id_id")),
    )
    op.create_index(
        "ix_chat_conversations_tenant_agent_user_updated",
        "chat_conversations",
        ["tenant_id", "agent_id", "external_user_id", "updated_at"],
    )
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(128), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint(f"role IN ({ROLES})", name=op.f("ck_chat_messages_role")),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_chat_messages_status")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "conversation_id"],
            ["chat_conversations.tenant_id", "chat_conversations.id"],
            name=op.f("fk_chat_messages_tenant_id_chat_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
    )
    op.create_index(
        "ix_chat_messages_tenant_id_conversation_id_created_at",
        "chat_messages",
        ["tenant_id", "conversation_id", "created_at"],
    )
    op.create_index(
        "uq_chat_messages_tenant_id_idempotency_key",
        "chat_messages",
        ["tenant_id", "idempotency_key"],
        unique=True,
        postgresql_where=HAS_IDEMPOTENCY_KEY,
        sqlite_where=HAS_IDEMPOTENCY_KEY,
    )


def downgrade() -> None:
    op.drop_index("uq_chat_messages_tenant_id_idempotency_key", table_name="chat_messages")
    op.drop_index(
        "ix_chat_messages_tenant_id_conversation_id_created_at", table_name="chat_messages"
    )
    op.drop_table("chat_messages")
    op.drop_index(
        "ix_chat_conversations_tenant_agent_user_updated",
        table_name="chat_conversations",
    )
    op.drop_table("chat_conversations")
