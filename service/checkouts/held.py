"""One pooled connection for a whole request, with short transactions on it.

Each pool checkout costs a liveness ping (three round trips on PostgreSQL) and a
new session, and a checkout needs the token check, a read, maybe a refusal, then
its grant: so the request takes the connection once, from the authentication
middleware when it kept it. No transaction stays open between them: on SQLite
every transaction holds the write lock, and none may span a Vault call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.audit.log import Entry, append, lock_chain
from service.principal import Caller
from service.runtime import Runtime


@asynccontextmanager
async def connection(rt: Runtime, taken: AsyncConnection | None) -> AsyncIterator[AsyncConnection]:
    """The connection handed over by authentication, or a fresh one; closed on exit."""
    conn = taken if taken is not None else await rt.engine.connect()
    try:
        yield conn
    finally:
        await conn.close()


@asynccontextmanager
async def transaction(rt: Runtime, conn: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """Like ``Runtime.transaction``, on a connection the request already holds."""
    async with AsyncSession(bind=conn, expire_on_commit=False) as session, session.begin():
        await lock_chain(session)
        yield session
    # Same after-commit hook as Runtime.transaction (checkpoint wake-up).
    first, last = session.info.get("audit_first_seq"), session.info.get("audit_last_seq")
    if isinstance(first, int) and isinstance(last, int):
        rt.committed((first, last))


async def record(rt: Runtime, conn: AsyncConnection, caller: Caller, entry: Entry) -> None:
    """``Runtime.record`` on the held connection: a refusal committed on its own."""
    async with transaction(rt, conn) as session:
        await append(session, caller, entry, rt.clock)
