"""Counters of refused requests per token and client address, one row per fixed window.

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-02 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "throttles",
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("refusals", sa.Integer(), nullable=False),
        sa.Column("summarised", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("window_start", "kind", "key", name=op.f("pk_throttles")),
    )


def downgrade() -> None:
    op.drop_table("throttles")
