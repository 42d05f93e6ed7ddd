"""Hot-path reads outside a write transaction, on both databases."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, text

from service.db.engine import make_engine
from service.db.models import ApiToken
from service.db.reads import read_row


async def test_a_read_does_not_wait_for_a_writer_and_leaves_no_transaction(
    database_url: str,
) -> None:
    engine = make_engine(database_url, pool_size=2)
    try:
        async with engine.connect() as writer, engine.connect() as reader:
            await writer.begin()  # SQLite: BEGIN IMMEDIATE, the write lock
            await writer.execute(text("UPDATE api_tokens SET name = name WHERE 1 = 0"))
            # A read that queued for the write lock would wait out the 30 s busy timeout.
            row = await asyncio.wait_for(
                read_row(reader, select(text("1")).select_from(ApiToken.__table__), {}), 5
            )
            assert row is None or row[0] == 1
            assert not reader.in_transaction()
            await writer.rollback()
            # The connection is back to ordinary transactions afterwards.
            async with reader.begin():
                level = await reader.get_isolation_level()
            assert level != "AUTOCOMMIT"
    finally:
        await engine.dispose()
