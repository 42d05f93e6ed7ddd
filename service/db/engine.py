"""Engine construction for SQLite (embedded default) and PostgreSQL.

Row locks in this service are ``with_for_update(key_share=True)``, PostgreSQL's
FOR NO KEY UPDATE: enough to serialise changes to a row without blocking the
KEY SHARE locks that foreign-key checks take when another transaction inserts a
row pointing at it (a plain FOR UPDATE there deadlocks against the audit lock).

Every PostgreSQL connection starts with ``statement_timeout`` and ``lock_timeout``
set, so a stuck transaction cannot make every writer queue behind it for good:
the waiters fail (55P03, 57014) and the request answers 503, to be retried.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option: on SQLite, a transaction that only reads begins DEFERRED.
READ_ONLY = "custodia_read_only"


def make_engine(
    database_url: str,
    pool_size: int = 10,
    *,
    statement_timeout_ms: int = 30_000,
    lock_timeout_ms: int = 10_000,
) -> AsyncEngine:
    """Create the async engine with the pragmas, locking and time-outs the service relies on."""
    if database_url.startswith("sqlite"):
        engine = create_async_engine(
            database_url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            hide_parameters=True,
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # Startup parameters: in force on every connection, before its first statement.
        connect_args={
            "server_settings": {
                "statement_timeout": str(statement_timeout_ms),
                "lock_timeout": str(lock_timeout_ms),
            }
        },
        # Parameters never reach an error message: they may be anything a caller sent.
        hide_parameters=True,
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that
        # read the chain head could otherwise fail instead of waiting its turn.
        # A read-only transaction never upgrades, so it need not queue (WAL).
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


def make_session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def make_reader_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reads that append nothing (service.uow.begin_reader).

    On SQLite they begin DEFERRED, so a read never queues for the write lock.
    On PostgreSQL they run in autocommit: a lone SELECT is one round trip, with
    the same per-statement snapshot READ COMMITTED gives inside a transaction.
    """
    if engine.dialect.name == "postgresql":
        return make_session_maker(engine.execution_options(isolation_level="AUTOCOMMIT"))
    return make_session_maker(engine.execution_options(**{READ_ONLY: True}))
