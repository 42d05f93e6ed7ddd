"""Reads outside a write transaction (rt.reader), on both databases."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Row, select, text

from service.clock import SystemClock
from service.db.engine import make_engine, make_reader_maker
from service.db.models import ApiToken
from service.uow import begin_reader


async def test_a_read_does_not_wait_for_a_writer_and_leaves_no_transaction(
    database_url: str,
) -> None:
    engine = make_engine(database_url, pool_size=2)
    readers = make_reader_maker(engine)
    try:
        async with engine.connect() as writer:
            await writer.begin()  # SQLite: BEGIN IMMEDIATE, the write lock
            await writer.execute(text("UPDATE api_tokens SET name = name WHERE 1 = 0"))

            async def read() -> Row[Any] | None:
                async with begin_reader(readers, SystemClock()) as reader:
                    query = select(text("1")).select_from(ApiToken.__table__)
                    row: Row[Any] | None = (await reader.session.execute(query)).first()
                    return row

            # A read that queued for the write lock would wait out the 30 s busy timeout.
            row = await asyncio.wait_for(read(), 5)
            assert row is None or row[0] == 1
            await writer.rollback()
        # Ordinary connections of the engine are untouched by the readers' options.
        async with engine.connect() as conn, conn.begin():
            level = await conn.get_isolation_level()
        assert level != "AUTOCOMMIT"
    finally:
        await engine.dispose()
