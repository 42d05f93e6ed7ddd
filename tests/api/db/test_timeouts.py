"""Every PostgreSQL connection has statement_timeout and lock_timeout from the settings,
so a stuck transaction makes its waiters answer 503 instead of queueing for good."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from service.db.models import Gestor
from service.settings import Settings
from tests.support.apps import AppFactory, Client, bearer, runtime_of
from tests.support.factories import insert_gestor
from tests.support.reads import head_seq

pytestmark = pytest.mark.postgresql_only  # SQLite has neither setting (busy_timeout instead)


async def _shown(client: Client) -> set[tuple[str, str]]:
    """(statement_timeout, lock_timeout) of as many pooled connections as can be held at once."""
    engine = runtime_of(client).engine
    held = engine.pool.size()  # type: ignore[attr-defined]
    gate = asyncio.Barrier(held)

    async def show() -> tuple[str, str]:
        async with engine.connect() as conn:
            await gate.wait()  # every connection open together: none is reused
            statement = await conn.scalar(text("SHOW statement_timeout"))
            lock = await conn.scalar(text("SHOW lock_timeout"))
        return str(statement), str(lock)

    return set(await asyncio.gather(*(show() for _ in range(held))))


async def test_the_defaults_are_in_force_on_every_connection(client: Client) -> None:
    defaults = Settings()
    assert (defaults.database_statement_timeout_ms, defaults.database_lock_timeout_ms) == (
        30_000,
        10_000,
    )
    assert await _shown(client) == {("30s", "10s")}


async def test_the_settings_are_in_force_on_every_connection(make_client: AppFactory) -> None:
    client = await make_client(database_statement_timeout_ms=4321, database_lock_timeout_ms=1234)
    assert await _shown(client) == {("4321ms", "1234ms")}
    async with runtime_of(client).reader() as r:  # the sessions use the same engine
        assert await r.session.scalar(text("SHOW lock_timeout")) == "1234ms"


@asynccontextmanager
async def _row_locked(url: str, gestor_id: str) -> AsyncIterator[None]:
    """Another transaction holds the gestor's row FOR UPDATE until the block ends."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn, conn.begin():
            await conn.execute(select(Gestor.id).where(Gestor.id == gestor_id).with_for_update())
            yield
    finally:
        await engine.dispose()


async def test_a_lock_wait_beyond_lock_timeout_is_503_and_changes_nothing(
    make_client: AppFactory, database_url: str
) -> None:
    client = await make_client(database_lock_timeout_ms=200)
    rt = runtime_of(client)
    admin = await bearer(client, "admin", "lock-timeout")
    gestor = await insert_gestor(rt)
    start = await head_seq(client)

    async with _row_locked(database_url, gestor):
        resp = await client.post(
            f"/v1/gestores/{gestor}/departure", json={"reason": "baja"}, headers=admin
        )
    assert resp.status_code == 503, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.headers["retry-after"] == "1"
    assert "retry" in resp.json()["detail"]
    async with rt.sessions() as session:
        row = await session.get(Gestor, gestor)
        assert row is not None and row.departed_at is None
    assert await head_seq(client) == start


async def test_a_statement_beyond_statement_timeout_is_503_and_changes_nothing(
    make_client: AppFactory,
) -> None:
    client = await make_client(database_statement_timeout_ms=300)
    rt = runtime_of(client)
    admin = await bearer(client, "admin", "statement-timeout")
    # A trigger slower than the time-out on the insert a gestor's creation makes.
    async with rt.engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$"
                " BEGIN PERFORM pg_sleep(5); RETURN NEW; END $$"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER slow_insert BEFORE INSERT ON gestores"
                " EXECUTE FUNCTION slow_insert()"
            )
        )
    try:
        async with rt.sessions() as session:
            before = await session.scalar(select(func.count()).select_from(Gestor))
        start = await head_seq(client)
        resp = await client.post(
            "/v1/gestores",
            json={
                "name": "Ana Lenta",
                "email": "ana.lenta@example.gob.mx",
                "kind": "servidor_publico",
                "cargo": "Jefa de departamento",
                "area": "Comunicación Social",
            },
            headers=admin,
        )
    finally:
        async with rt.engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER slow_insert ON gestores"))
            await conn.execute(text("DROP FUNCTION slow_insert()"))
    assert resp.status_code == 503, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.headers["retry-after"] == "1"
    async with rt.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Gestor)) == before
    assert await head_seq(client) == start
