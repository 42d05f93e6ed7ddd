"""The Alembic migrations are the schema: the models must agree with them exactly."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from service.db.models import Base


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_models_match_migrations(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(_diff)
    finally:
        await engine.dispose()
    assert differences == [], f"models and migrations disagree: {differences}"


FORBIDDEN = (
    "UPDATE audit_events SET actor = 'forged'",
    "DELETE FROM audit_events",
    "UPDATE audit_checkpoints SET hash = 'forged'",
    "DELETE FROM audit_checkpoints",
)
POSTGRES_ONLY = ("TRUNCATE audit_events", "TRUNCATE audit_checkpoints")


async def test_audit_tables_are_append_only(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        postgres = engine.dialect.name == "postgresql"
        for statement in FORBIDDEN + (POSTGRES_ONLY if postgres else ()):
            async with engine.connect() as conn:
                # The row exists only inside this transaction, which is always
                # rolled back: the shared chain is never touched.
                transaction = await conn.begin()
                try:
                    await conn.execute(
                        text(
                            "INSERT INTO audit_events (seq, ts, action, outcome, details,"
                            " prev_hash, hash) VALUES (999999999999, 't', 'test.probe', 'ok',"
                            " '{}', 'p', 'probe')"
                        )
                    )
                    await conn.execute(
                        text(
                            "INSERT INTO audit_checkpoints (seq, hash, ts, signature,"
                            " key_version) VALUES (999999999999, 'probe', 't', 's', 1)"
                        )
                    )
                    message = ""
                    try:
                        await conn.execute(text(statement))
                    except Exception as exc:  # driver errors differ per database
                        message = str(exc)
                finally:
                    await transaction.rollback()
            assert "append-only" in message, f"{statement} was not refused by the trigger"
    finally:
        await engine.dispose()
