"""Check-ins are claimed; each TOTP enrolment has its own seed, and used steps name it.

``checkouts.checkin_claimed_at``: a check-in with a new credential claims its
checkout before Vault is written, so concurrent check-ins write one version.
``gestores.totp_seed_id``: the seed path in Vault SQL names (NULL: the single
path used until now). ``totp_used_steps.seed_id`` joins the primary key, so a
step used with a reset seed does not refuse the new seed's code; rows kept
from before are the old path's ('').

A downgrade forgets which seed is named: gestores enrolled since must be reset.

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-02 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkouts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("checkin_claimed_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("gestores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_seed_id", sa.String(length=36), nullable=True))
    with op.batch_alter_table("totp_used_steps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("seed_id", sa.String(length=36), nullable=False, server_default="")
        )
        batch_op.drop_constraint("pk_totp_used_steps", type_="primary")
        batch_op.create_primary_key("pk_totp_used_steps", ["gestor_id", "seed_id", "step"])
    with op.batch_alter_table("totp_used_steps", schema=None) as batch_op:
        # The default only filled the rows kept; every new row names its seed.
        batch_op.alter_column("seed_id", server_default=None)


def downgrade() -> None:
    # One step per gestor again: keep only the old path's, so none collide.
    op.execute("DELETE FROM totp_used_steps WHERE seed_id <> ''")
    with op.batch_alter_table("totp_used_steps", schema=None) as batch_op:
        batch_op.drop_constraint("pk_totp_used_steps", type_="primary")
        batch_op.create_primary_key("pk_totp_used_steps", ["gestor_id", "step"])
        batch_op.drop_column("seed_id")
    with op.batch_alter_table("gestores", schema=None) as batch_op:
        batch_op.drop_column("totp_seed_id")
    with op.batch_alter_table("checkouts", schema=None) as batch_op:
        batch_op.drop_column("checkin_claimed_at")
