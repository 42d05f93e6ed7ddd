"""Databases the tests own: the session's PostgreSQL reset, and private fresh ones."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from service.db.migrate import upgrade_to_head


async def reset_postgres(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@asynccontextmanager
async def fresh_database(kind: str, pg_url: str, tmp: Path) -> AsyncIterator[str]:
    """A newly migrated private database, dropped afterwards, so tests may tamper with it."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / f'fresh-{secrets.token_hex(4)}.db'}"
        await asyncio.to_thread(upgrade_to_head, url)
        yield url
        return
    name = f"custodia_fresh_{secrets.token_hex(4)}"
    admin = create_async_engine(pg_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(upgrade_to_head, url)
        yield url
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
