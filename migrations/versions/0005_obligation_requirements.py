"""Obligations say what they require; accounts, which versions set their codes and seed.

``rotation_obligations.requires``: the secrets the satisfying version must replace
(every obligation before this one required the password alone).
``accounts.backup_codes_version`` and ``accounts.totp_secret_version``: the
versions that set the current backup codes and platform TOTP seed. Until now
every write replaced the whole record, so the current version set both.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rotation_obligations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "requires", sa.JSON(), nullable=False, server_default=sa.text("'[\"password\"]'")
            )
        )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("backup_codes_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("totp_secret_version", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE accounts SET backup_codes_version = credential_version, "
        "totp_secret_version = CASE WHEN two_factor_method = 'totp' "
        "THEN credential_version END"
    )


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("totp_secret_version")
        batch_op.drop_column("backup_codes_version")
    with op.batch_alter_table("rotation_obligations", schema=None) as batch_op:
        batch_op.drop_column("requires")
