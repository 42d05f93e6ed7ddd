"""One live account per handle and platform: a normalised handle key under a partial unique index.

The key is the handle without surrounding spaces or one leading '@', NFKC
case-folded; Facebook ignores periods and WhatsApp a leading '+'. Existing rows
are keyed here with a frozen copy of that rule (service.domain.handles may move on;
this migration must not).

Existing duplicates do not make the upgrade fail. Among live accounts (retired_at
IS NULL) with one key on one platform, the oldest (created_at, then id) keeps the
key; each later one keeps a NULL key, which the index does not cover, and is
logged as a warning with its id and the id of the account it duplicates. An
admin resolves it by retiring one or changing its handle (re-keyed then, and
refused with 409 while the handle is still taken). Retired accounts are keyed
too but are outside the index: a handle is free again once its account retires.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 10:00:00.000000
"""

import logging
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "retired_at IS NULL"
IGNORED = {"facebook": ".", "whatsapp": "+"}
log = logging.getLogger("alembic.runtime.migration")


def handle_key(platform: str, handle: str) -> str:
    """Frozen copy of service.domain.handles.handle_key as of this revision."""
    trimmed = handle.strip()
    if trimmed.startswith("@"):
        trimmed = trimmed[1:]
    key = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", trimmed).casefold())
    for char in IGNORED.get(platform, ""):
        key = key.replace(char, "")
    return key


def _backfill() -> None:
    accounts = sa.table(
        "accounts",
        sa.column("id", sa.String),
        sa.column("platform", sa.String),
        sa.column("handle", sa.String),
        sa.column("handle_key", sa.String),
        sa.column("retired_at", sa.DateTime),
        sa.column("created_at", sa.DateTime),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            accounts.c.id, accounts.c.platform, accounts.c.handle, accounts.c.retired_at
        ).order_by(accounts.c.created_at, accounts.c.id)
    ).all()
    kept: dict[tuple[str, str], str] = {}
    for row in rows:
        key = handle_key(row.platform, row.handle)
        if row.retired_at is None:
            first = kept.setdefault((row.platform, key), row.id)
            if first != row.id:
                log.warning(
                    "account %s duplicates the handle of live account %s on %s; "
                    "left without a handle key until one is retired or renamed",
                    row.id,
                    first,
                    row.platform,
                )
                continue
        bind.execute(accounts.update().where(accounts.c.id == row.id).values(handle_key=key))


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handle_key", sa.String(length=600), nullable=True))
    _backfill()
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(
            "uq_accounts_live_handle",
            ["platform", "handle_key"],
            unique=True,
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index("uq_accounts_live_handle")
        batch_op.drop_column("handle_key")
