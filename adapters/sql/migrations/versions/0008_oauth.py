"""Sign-in through identity providers: account links and one-time login codes.

Revision ID: 0008_oauth
Revises: 0007_payments
Create Date: 2026-12-02 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_oauth"
down_revision: str | None = "0007_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "oauth_links",
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("provider", "subject", name=op.f("pk_oauth_links")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_oauth_links_user_id_users"), ondelete="CASCADE"
        ),
    )
    op.create_index(op.f("ix_oauth_links_user_id"), "oauth_links", ["user_id"])
    op.create_table(
        "login_codes",
        sa.Column("code_hash", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("is_new_user", sa.Boolean(), nullable=False),
        sa.Column("expires_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("consumed_at", UTC_TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_login_codes")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_login_codes_user_id_users"), ondelete="CASCADE"
        ),
    )
    op.create_index(op.f("ix_login_codes_user_id"), "login_codes", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_login_codes_user_id"), table_name="login_codes")
    op.drop_table("login_codes")
    op.drop_index(op.f("ix_oauth_links_user_id"), table_name="oauth_links")
    op.drop_table("oauth_links")
