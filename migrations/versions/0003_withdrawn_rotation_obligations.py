"""Rotation obligations can be withdrawn (the account left custody); one open means neither.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 08:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_BEFORE = "satisfied_at IS NULL"
OPEN_NOW = "satisfied_at IS NULL AND withdrawn_at IS NULL"


def _one_open_index(batch_op: BatchOperations, predicate: str) -> None:
    batch_op.create_index(
        "uq_rotation_obligations_one_open",
        ["account_id"],
        unique=True,
        sqlite_where=sa.text(predicate),
        postgresql_where=sa.text(predicate),
    )


def upgrade() -> None:
    with op.batch_alter_table("rotation_obligations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("withdrawn_reason", sa.String(length=20), nullable=True))
        batch_op.drop_index("uq_rotation_obligations_one_open")
        _one_open_index(batch_op, OPEN_NOW)


def downgrade() -> None:
    # Fails if an account has a withdrawn obligation and a later open one: both would be open.
    with op.batch_alter_table("rotation_obligations", schema=None) as batch_op:
        batch_op.drop_index("uq_rotation_obligations_one_open")
        _one_open_index(batch_op, OPEN_BEFORE)
        batch_op.drop_column("withdrawn_reason")
        batch_op.drop_column("withdrawn_at")
