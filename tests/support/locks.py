"""Waiting until a concurrent request is queued on a database lock."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def lock_waiters(engine: AsyncEngine, count: int) -> None:
    """Until ``count`` sessions wait on a lock, the chain's or a row's (PostgreSQL); or a pause
    (SQLite, which shows no waiters)."""
    if engine.dialect.name != "postgresql":
        await asyncio.sleep(0.5)
        return
    # This database's backends only: other databases of the server run their own tests.
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(250):
        async with engine.connect() as probe:
            if (await probe.execute(query)).scalar() == count:
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never saw {count} session(s) waiting on a lock")
