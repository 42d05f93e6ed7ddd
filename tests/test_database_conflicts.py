"""A transaction PostgreSQL aborts for a clash with another one is a 503 to retry, not a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from service.db.models import Gestor
from tests.conftest import AppFactory, bearer, runtime_of
from tests.custody_helpers import head_seq

# Each SQLSTATE is raised by a trigger on the insert a gestor's creation makes.
CLASHES = {"deadlock": "40P01", "serialization": "40001", "lock_timeout": "55P03"}


@pytest.mark.postgresql_only  # SQLite has one writer: these errors cannot arise there
@pytest.mark.parametrize("clash", sorted(CLASHES))
async def test_a_clash_with_a_concurrent_transaction_asks_for_a_retry(
    make_client: AppFactory, clash: str
) -> None:
    c = await make_client()
    rt = runtime_of(c)
    assert rt.engine.dialect.name == "postgresql"
    admin = await bearer(c, "admin", "conflict-admin")
    function = f"""
        CREATE FUNCTION clash() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'clash' USING ERRCODE = '{CLASHES[clash]}'; END $$"""
    async with rt.engine.begin() as conn:
        await conn.execute(text(function))
        await conn.execute(
            text("CREATE TRIGGER clash BEFORE INSERT ON gestores EXECUTE FUNCTION clash()")
        )
    try:
        async with rt.sessions() as session:
            before = await session.scalar(select(func.count()).select_from(Gestor))
        start = await head_seq(c)
        resp = await c.post(
            "/v1/gestores",
            json={
                "name": "Ana Conflicto",
                "email": "ana.conflicto@example.gob.mx",
                "kind": "servidor_publico",
                "cargo": "Jefa de departamento",
                "area": "Comunicación Social",
            },
            headers=admin,
        )
    finally:
        async with rt.engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER clash ON gestores"))
            await conn.execute(text("DROP FUNCTION clash()"))
    assert resp.status_code == 503, resp.text
    assert resp.headers["retry-after"] == "1"
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert "retry" in resp.json()["detail"]
    async with rt.sessions() as session:  # rolled back whole
        assert await session.scalar(select(func.count()).select_from(Gestor)) == before
    assert await head_seq(c) == start
