"""A transaction PostgreSQL aborts for a clash with another one is a 503 to retry, not a 500;
text it cannot store is the client's 422."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from service.db.models import Gestor
from service.http.problems import TRANSIENT_SQLSTATES
from tests.support.apps import AppFactory, bearer, runtime_of
from tests.support.reads import head_seq

# Each SQLSTATE is raised by a trigger on the insert a gestor's creation makes.
CLASHES = {
    "deadlock": ("40P01", 503),
    "serialization": ("40001", 503),
    "lock_timeout": ("55P03", 503),
    "unstorable_text": ("22021", 422),
    "too_many_connections": ("53300", 503),
    "admin_shutdown": ("57P01", 503),
}


@pytest.mark.postgresql_only  # SQLite has one writer: these errors cannot arise there
@pytest.mark.parametrize("clash", sorted(CLASHES))
async def test_a_database_refusal_is_a_problem_not_a_500(
    make_client: AppFactory, clash: str
) -> None:
    c = await make_client()
    rt = runtime_of(c)
    assert rt.engine.dialect.name == "postgresql"
    admin = await bearer(c, "admin", "conflict-admin")
    function = f"""
        CREATE FUNCTION clash() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'clash' USING ERRCODE = '{CLASHES[clash][0]}'; END $$"""
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
    assert resp.status_code == CLASHES[clash][1], resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    if resp.status_code == 503:
        assert "retry" in resp.json()["detail"]
        if CLASHES[clash][0] in TRANSIENT_SQLSTATES:
            assert resp.headers["retry-after"] == "1"
    else:
        assert "cannot store" in resp.json()["detail"]
    async with rt.sessions() as session:  # rolled back whole
        assert await session.scalar(select(func.count()).select_from(Gestor)) == before
    assert await head_seq(c) == start
