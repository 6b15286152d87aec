"""Redirect sign-ins in flight (state, nonce, PKCE verifier bound to a browser), WATI links
of tenants, and expiry indexes that let both kinds of short-lived rows be swept.

Revision ID: 0009_oauth_attempts
Revises: 0008_oauth
Create Date: 2026-12-02 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_oauth_attempts"
down_revision: str | None = "0008_oauth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "oauth_attempts",
        sa.Column("state_hash", sa.String(128), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("browser_hash", sa.String(128), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("expires_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_oauth_attempts")),
    )
    op.create_index(op.f("ix_oauth_attempts_expires_at"), "oauth_attempts", ["expires_at"])
    op.create_index(op.f("ix_login_codes_expires_at"), "login_codes", ["expires_at"])
    op.create_table(
        "wati_links",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("wati_email", sa.String(320), nullable=False),
        sa.Column("wati_tenant", sa.String(255), nullable=False),
        sa.Column("sealed_token", sa.Text(), nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_wati_links")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_wati_links_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_wati_links_user_id_users"), ondelete="CASCADE"
        ),
    )
    op.create_index(op.f("ix_wati_links_user_id"), "wati_links", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_wati_links_user_id"), table_name="wati_links")
    op.drop_table("wati_links")
    op.drop_index(op.f("ix_login_codes_expires_at"), table_name="login_codes")
    op.drop_index(op.f("ix_oauth_attempts_expires_at"), table_name="oauth_attempts")
    op.drop_table("oauth_attempts")
