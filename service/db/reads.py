"""Single reads outside a transaction, for the per-request hot path.

On PostgreSQL a lone SELECT needs no BEGIN/COMMIT: in autocommit it is one round
trip instead of three. On SQLite the engine begins every transaction itself, so
the read gets a deferred one there, which does not queue for the write lock.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Executable, Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.db.engine import READ_ONLY


async def read_row(
    conn: AsyncConnection, statement: Executable, params: dict[str, Any]
) -> Row[Any] | None:
    """The first row of ``statement``; ``conn`` is left idle, ready for a transaction."""
    if conn.dialect.name != "postgresql":
        await conn.execution_options(**{READ_ONLY: True})
        try:
            async with conn.begin():
                row: Row[Any] | None = (await conn.execute(statement, params)).first()
        finally:
            await conn.execution_options(**{READ_ONLY: False})
        return row
    await conn.execution_options(isolation_level="AUTOCOMMIT")
    try:
        row = (await conn.execute(statement, params)).first()
        await conn.rollback()  # SQLAlchemy's bookkeeping only: nothing was begun
    finally:
        await conn.execution_options(isolation_level=conn.default_isolation_level)
    return row
