"""Single reads outside a transaction, for the per-request hot path.

On PostgreSQL a lone SELECT needs no BEGIN/COMMIT: in autocommit it is one round
trip instead of three. SQLite keeps its ordinary transaction: there the engine
begins every transaction itself (BEGIN IMMEDIATE), which autocommit would bypass.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Executable, Row
from sqlalchemy.ext.asyncio import AsyncConnection


async def read_row(
    conn: AsyncConnection, statement: Executable, params: dict[str, Any]
) -> Row[Any] | None:
    """The first row of ``statement``; ``conn`` is left idle, ready for a transaction."""
    if conn.dialect.name != "postgresql":
        async with conn.begin():
            row: Row[Any] | None = (await conn.execute(statement, params)).first()
        return row
    await conn.execution_options(isolation_level="AUTOCOMMIT")
    try:
        row = (await conn.execute(statement, params)).first()
        await conn.rollback()  # SQLAlchemy's bookkeeping only: nothing was begun
    finally:
        await conn.execution_options(isolation_level=conn.default_isolation_level)
    return row
