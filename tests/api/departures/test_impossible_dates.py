"""Dates that precede what they depend on are 422 and change nothing (issue 12, item 4).

A departure cannot end access before the gestor's first assignment (with none, before
the gestor was registered); a handover cannot start before its área's first account.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from service.clock import rfc3339
from service.db.models import Assignment, AuditEvent, Gestor, Handover, RotationObligation
from tests.support.apps import Client, runtime_of
from tests.support.factories import (
    insert_assignment,
    insert_backdated_account,
    insert_gestor,
    insert_token,
)
from tests.support.reads import head_seq


async def _gestor_row(client: Client, gestor_id: str) -> Gestor:
    async with runtime_of(client).sessions() as session:
        row = await session.get(Gestor, gestor_id)
    assert row is not None
    return row


async def _depart(
    client: Client, admin: dict[str, str], gestor_id: str, effective_at: datetime
) -> Any:
    return await client.post(
        f"/v1/gestores/{gestor_id}/departure",
        json={"reason": "baja", "effective_at": rfc3339(effective_at)},
        headers=admin,
    )


def _names(problem: dict[str, Any], field: str, bound: datetime) -> None:
    """The 422 names the field and the instant it may not precede."""
    assert problem["status"] == 422
    assert problem["field"] == field
    assert problem["not_before"] == rfc3339(bound)
    assert rfc3339(bound) in problem["detail"] and field in problem["detail"]


async def test_a_departure_before_the_first_assignment_is_422_and_ends_nothing(
    client: Client, admin: dict[str, str]
) -> None:
    rt = runtime_of(client)
    now = rt.clock.now()
    gestor = await insert_gestor(rt)
    account = await insert_backdated_account(rt)
    first, later = now - timedelta(days=10), now - timedelta(days=3)
    await insert_assignment(rt, account, gestor, at=first, ended_at=now - timedelta(days=5))
    await insert_assignment(rt, account, gestor, at=later)
    token = await insert_token(rt, gestor)
    start = await head_seq(client)

    for when in (first - timedelta(days=400), first - timedelta(microseconds=1)):
        resp = await _depart(client, admin, gestor, when)
        assert resp.status_code == 422, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        _names(resp.json(), "effective_at", first)
        assert "first assignment" in resp.json()["detail"]

    assert (await _gestor_row(client, gestor)).departed_at is None
    assert (await client.get("/v1/rotations", headers=token)).status_code == 403  # still live
    assert (await client.get(f"/v1/gestores/{gestor}/departure", headers=admin)).status_code == 404
    async with rt.sessions() as session:
        active = await session.scalar(
            select(func.count())
            .select_from(Assignment)
            .where(Assignment.gestor_id == gestor, Assignment.ended_at.is_(None))
        )
        owed = await session.scalar(
            select(func.count())
            .select_from(RotationObligation)
            .where(RotationObligation.account_id == account)
        )
    assert active == 1 and owed == 0
    assert await head_seq(client) == start

    # The first assignment itself is a possible instant: access ends as it began.
    resp = await _depart(client, admin, gestor, first)
    assert resp.status_code == 200, resp.text
    assert resp.json()["effective_at"] == rfc3339(first)


async def test_a_departure_of_a_never_assigned_gestor_before_registration_is_422(
    client: Client, admin: dict[str, str]
) -> None:
    rt = runtime_of(client)
    gestor = await insert_gestor(rt)
    registered = (await _gestor_row(client, gestor)).created_at
    start = await head_seq(client)

    resp = await _depart(client, admin, gestor, registered - timedelta(days=3 * 365))
    assert resp.status_code == 422, resp.text
    _names(resp.json(), "effective_at", registered)
    assert "registered" in resp.json()["detail"]
    assert (await _gestor_row(client, gestor)).departed_at is None
    assert await head_seq(client) == start

    resp = await _depart(client, admin, gestor, registered)
    assert resp.status_code == 200, resp.text


def _handover(area: str, incoming: str, started_at: datetime) -> dict[str, Any]:
    party = {"name": "Persona de prueba", "cargo": "Jefa de departamento"}
    return {
        "area": area,
        "outgoing": party,
        "incoming": {**party, "gestor_id": incoming},
        "oic_representative": {**party, "oficio": "OIC/0001/2026"},
        "witnesses": [party, party],
        "place": "Sala de juntas",
        "reason": "Conclusión del encargo",
        "started_at": rfc3339(started_at),
    }


async def _handovers_of(client: Client, area: str) -> int:
    async with runtime_of(client).sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Handover).where(Handover.area == area)
        )
    return int(count or 0)


async def test_a_handover_before_the_area_existed_is_422_and_moves_nothing(
    client: Client, admin: dict[str, str]
) -> None:
    rt = runtime_of(client)
    now = rt.clock.now()
    area = f"Área {uuid.uuid4().hex[:8]}"
    # A retired account still dates the área: it existed while that account was held.
    founded = now - timedelta(days=30)
    await insert_backdated_account(
        rt, area=area, created_at=founded, retired_at=now - timedelta(days=20)
    )
    account = await insert_backdated_account(rt, area=area, created_at=now - timedelta(days=10))
    incoming = await insert_gestor(rt)
    start = await head_seq(client)

    for when in (founded - timedelta(days=5 * 365), founded - timedelta(microseconds=1)):
        resp = await client.post(
            "/v1/handovers", json=_handover(area, incoming, when), headers=admin
        )
        assert resp.status_code == 422, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        _names(resp.json(), "started_at", founded)
        assert "área" in resp.json()["detail"]

    assert await _handovers_of(client, area) == 0
    async with rt.sessions() as session:
        moved = await session.scalar(
            select(func.count()).select_from(Assignment).where(Assignment.account_id == account)
        )
        owed = await session.scalar(
            select(func.count())
            .select_from(RotationObligation)
            .where(RotationObligation.account_id == account)
        )
        recorded = list(
            await session.execute(
                select(AuditEvent.action, AuditEvent.outcome).where(AuditEvent.seq > start)
            )
        )
    assert moved == 0 and owed == 0
    # As every refused handover, the refusal itself is on record, and only it.
    assert [tuple(r) for r in recorded] == [("handover.created", "denied")] * 2

    resp = await client.post(
        "/v1/handovers", json=_handover(area, incoming, founded), headers=admin
    )
    assert resp.status_code == 201, resp.text
    assert await _handovers_of(client, area) == 1
