"""One webhook delivery per event and URL, so replicas fanning out at once never duplicate.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 13:44:53.658929
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index("uq_webhook_deliveries_event_url", ["event_id", "url"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("uq_webhook_deliveries_event_url")
