"""Migration 0004 up from 0003 with data: keys every handle, keeps the oldest live duplicate.

It runs on the session database of each kind: down to 0003, rows written as
0003 knew them, up to head again; its rows are removed afterwards. (The fresh
migration from nothing is the session database itself: see test_migrations.)
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from service.db.migrate import alembic_config, upgrade_to_head

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ACCOUNTS_0003 = sa.table(
    "accounts",
    *(sa.column(name, sa.String) for name in ("id", "platform", "handle", "url", "kind")),
    *(sa.column(name, sa.String) for name in ("display_name", "area")),
    *(sa.column(name, sa.Boolean) for name in ("managed_by_area", "verified", "in_directory")),
    *(sa.column(name, sa.DateTime(timezone=True)) for name in ("created_at", "updated_at")),
    sa.column("retired_at", sa.DateTime(timezone=True)),
)


def downgrade_to_0003(url: str) -> None:
    command.downgrade(alembic_config(url), "0003")


async def insert(
    engine: AsyncEngine, platform: str, handle: str, minutes: int, **more: object
) -> str:
    account_id = str(uuid.uuid4())
    at = T0 + timedelta(minutes=minutes)
    values = {
        "id": account_id, "platform": platform, "handle": handle, "url": "https://x.com/m",
        "kind": "oficial", "display_name": "Migración", "area": "Migración",
        "managed_by_area": False, "verified": False, "in_directory": True,
        "created_at": at, "updated_at": at, **more,
    }  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(ACCOUNTS_0003.insert().values(**values))
    return account_id


async def test_0004_keys_handles_and_leaves_later_live_duplicates_unkeyed(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    u = uuid.uuid4().hex[:8]
    engine = create_async_engine(database_url)
    ids: dict[str, str] = {}
    try:
        await asyncio.to_thread(downgrade_to_0003, database_url)
        try:
            ids["first"] = await insert(engine, "x", f"Mig_{u}", 0)
            ids["retired_older"] = await insert(
                engine, "x", f"MIG_{u}", -5, retired_at=T0 - timedelta(minutes=1)
            )
            ids["spaced"] = await insert(engine, "x", f" @mig_{u} ", 1)
            ids["upper"] = await insert(engine, "x", f"MIG_{u}", 2)
            ids["fb"] = await insert(engine, "facebook", f"mig.{u}", 0)
            ids["fb_no_dots"] = await insert(engine, "facebook", f"MIG{u}", 1)
            ids["other_platform"] = await insert(engine, "instagram", f"mig_{u}", 3)
        finally:
            with caplog.at_level(logging.WARNING, logger="alembic.runtime.migration"):
                await asyncio.to_thread(upgrade_to_head, database_url)
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text("SELECT id, handle_key FROM accounts WHERE id IN :ids").bindparams(
                    sa.bindparam("ids", expanding=True)
                ),
                {"ids": list(ids.values())},
            )
            by_id = {account_id: key for account_id, key in rows}
        keys = {label: by_id[account_id] for label, account_id in ids.items()}
        assert keys == {
            "first": f"mig_{u}",
            "retired_older": f"mig_{u}",  # keyed, but outside the live-only index
            "spaced": None,
            "upper": None,
            "fb": f"mig{u}",
            "fb_no_dots": None,
            "other_platform": f"mig_{u}",
        }
        warned = " ".join(r.getMessage() for r in caplog.records)
        for label in ("spaced", "upper", "fb_no_dots"):
            assert ids[label] in warned
        assert ids["first"] in warned and ids["fb"] in warned
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(
                    sa.text(
                        "INSERT INTO accounts (id, platform, handle, handle_key, url, kind,"
                        " display_name, area, managed_by_area, verified, in_directory,"
                        " created_at, updated_at) SELECT :id, platform, handle, handle_key, url,"
                        " kind, display_name, area, managed_by_area, verified, in_directory,"
                        " created_at, updated_at FROM accounts WHERE id = :first"
                    ),
                    {"id": str(uuid.uuid4()), "first": ids["first"]},
                )
    finally:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text("DELETE FROM accounts WHERE id IN :ids").bindparams(
                    sa.bindparam("ids", expanding=True)
                ),
                {"ids": list(ids.values())},
            )
        await engine.dispose()
