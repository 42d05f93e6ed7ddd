"""Entrega-recepción: custody transfer, frozen annex, the acta's content, immutability, 422s."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select

from service.db.models import Assignment, AuditEvent, Handover, RotationObligation
from service.documents.acta import annex_from_json, annex_sha256
from service.documents.formats import canonical_sha256
from tests.support.apps import Client, runtime_of
from tests.support.factories import create_account, create_gestor, insert_assignment, uid
from tests.support.pdf import pdf_pages, pdf_text, squash
from tests.support.public_body import Body, handover_body, seed_body

CDMX = timezone(timedelta(hours=-6))


async def _create(client: Client, admin: dict[str, str], body: Body, **over: Any) -> dict[str, Any]:
    resp = await client.post("/v1/handovers", json=handover_body(body, **over), headers=admin)
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


async def _active(client: Client, account_id: str) -> set[str]:
    async with runtime_of(client).sessions() as session:
        rows = await session.scalars(
            select(Assignment.gestor_id).where(
                Assignment.account_id == account_id, Assignment.ended_at.is_(None)
            )
        )
        return set(rows)


async def test_handover_transfers_custody_opens_obligations_and_freezes_annex(
    client: Client, admin: dict[str, str]
) -> None:
    body = await seed_body(client, admin)
    created = await _create(client, admin, body)
    assert re.fullmatch(r"ER-\d{4}-\d{4}", created["folio"])
    assert created["status"] == "open" and created["accounts"] == 3
    mine = [body.accounts[k] for k in ("fb", "x", "ig")]
    for account_id in mine:
        active = await _active(client, account_id)
        assert body.gestores["in"] in active
        assert body.gestores["out"] not in active
    assert body.gestores["ext"] in await _active(client, body.accounts["fb"])
    async with runtime_of(client).sessions() as session:
        obligations = list(
            await session.scalars(
                select(RotationObligation).where(
                    RotationObligation.account_id.in_(mine),
                    RotationObligation.satisfied_at.is_(None),
                )
            )
        )
    assert len(obligations) == 3
    for row in obligations:
        assert {"type": "handover", "id": created["id"], "reason": "handover"} in row.origins
    assert sorted(o.id for o in obligations) == sorted(created["obligation_ids"])

    acta = (
        await client.get(f"/v1/handovers/{created['id']}", params={"format": "json"}, headers=admin)
    ).json()
    assert acta["audit_head"] is None and acta["ended_at"] is None
    annex = {row["handle"]: row for row in acta["annex"]}
    assert set(annex) == {body.handles[k] for k in ("fb", "x", "ig")}
    fb = annex[body.handles["fb"]]
    assert fb["credential_version"] == 1 and fb["credential_created_at"]
    assert fb["outgoing_last_retrieval"] is not None and fb["checkouts_in_period"] >= 1
    assert {g["name"] for g in fb["gestores"]} == {body.names["out"], body.names["ext"]}
    assert all("•" in c for c in fb["recovery_channels"])
    assert "custodia" in fb["two_factor_holder"]
    assert {o["reason"] for o in fb["open_obligations"]} == {"handover"}
    assert acta["annex_sha256"] == created["annex_sha256"]
    assert annex_sha256(annex_from_json(acta["annex"])) == created["annex_sha256"]
    assert len(acta["pending"]) == 3


async def test_closed_acta_pdf_has_every_required_element(
    client: Client, admin: dict[str, str]
) -> None:
    body = await seed_body(client, admin)
    # Whole seconds, rounded up: never before the área's accounts were registered.
    start = datetime.now(CDMX).replace(microsecond=0) + timedelta(seconds=1)
    created = await _create(client, admin, body, started_at=start.isoformat())
    closed = await client.post(f"/v1/handovers/{created['id']}/close", headers=admin)
    assert closed.status_code == 200, closed.text
    info = closed.json()
    pdf = await client.get(f"/v1/handovers/{created['id']}", headers=admin)
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["x-content-sha256"] == hashlib.sha256(pdf.content).hexdigest()
    assert created["folio"] in pdf.headers["content-disposition"]
    text = squash(pdf_text(pdf.content))
    data = handover_body(body)
    for needle in (
        created["folio"],
        data["place"],
        start.strftime("%d/%m/%Y %H:%M:%S UTC-06:00"),  # start, in the offset it was given
        "Conclusión",
        "UTC-06:00",
        "Décima sexta",
        body.names["out"],
        body.names["in"],
        f"gestor:{body.gestores['in']}",
        "Lic. Ramón Téllez Ruíz",
        "OIC/0457/2026",
        "Ana Sofía Muñoz Peña",
        "Jesús Ñeco Ibarra",
        info["annex_sha256"],
        info["closing_head_hash"],
        f"seq {info['closing_head_seq']}",
        "Asuntos pendientes (3)",
        "entrega-recepción",
        body.handles["ig"],
        "extracción con su propio segundo factor",
    ):
        assert squash(needle) in text, needle
    pages = pdf_pages(pdf.content)
    for n, page in enumerate(pages, 1):
        flat = squash(page)
        assert squash(f"Hoja {n} de {len(pages)}") in flat
        for signer in ("Entrega", "Recibe", "Testigo 1", "Testigo 2", "Órgano interno de"):
            assert squash(signer) in flat, (n, signer)
        for name in (body.names["out"], body.names["in"], "Jesús Ñeco Ibarra"):
            assert squash(name) in flat, (n, name)
    markdown = await client.get(
        f"/v1/handovers/{created['id']}", params={"format": "md"}, headers=admin
    )
    assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
    assert info["annex_sha256"] in markdown.text and "Décima sexta" in markdown.text


async def test_closed_handover_never_changes_and_refuses_edits(
    client: Client, admin: dict[str, str]
) -> None:
    body = await seed_body(client, admin)
    created = await _create(client, admin, body)
    url = f"/v1/handovers/{created['id']}"
    edited = await client.patch(url, json={"place": "Sala de Juntas del OIC"}, headers=admin)
    assert edited.status_code == 200, edited.text
    closed = (await client.post(f"{url}/close", headers=admin)).json()
    before = await client.get(url, params={"format": "json"}, headers=admin)
    assert before.json()["place"] == "Sala de Juntas del OIC"
    assert before.json()["closed_sha256"] == closed["closed_sha256"]
    # Later changes to what the annex described, and to custody.
    fb = body.accounts["fb"]
    patched = await client.patch(
        f"/v1/accounts/{fb}", json={"verified": False, "display_name": "Otro nombre"}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    written = await client.patch(
        f"/v1/accounts/{fb}/credential",
        json={"username": "u", "password": "otra-contraseña-nueva-123"},
        headers=admin,
    )
    assert written.status_code == 200, written.text
    after = await client.get(url, params={"format": "json"}, headers=admin)
    assert after.content == before.content
    again = await client.post(f"{url}/close", headers=admin)
    assert again.status_code == 409
    late_edit = await client.patch(url, json={"reason": "otro"}, headers=admin)
    assert late_edit.status_code == 409
    async with runtime_of(client).sessions() as session:
        row = await session.get(Handover, created["id"])
        assert row is not None
        assert canonical_sha256({"record": row.record, "annex": row.annex}) == row.closed_sha256
        denied = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.subject == f"handover:{created['id']}", AuditEvent.outcome == "denied"
            )
        )
    assert denied == 2
    assert (
        await client.get(url, params={"format": "json"}, headers=admin)
    ).content == before.content


async def _nothing_created(client: Client, body: Body, area: str) -> None:
    async with runtime_of(client).sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Handover).where(Handover.area == area)
        )
        assigned = await session.scalar(
            select(func.count())
            .select_from(Assignment)
            .where(Assignment.gestor_id == body.gestores["in"])
        )
    assert count == 0 and assigned == 0


async def test_bad_handovers_get_422_and_create_nothing(
    client: Client, admin: dict[str, str]
) -> None:
    body = await seed_body(client, admin)
    data = handover_body(body)
    cases: list[dict[str, Any]] = [
        {**data, "witnesses": data["witnesses"][:1]},
        {k: v for k, v in data.items() if k != "oic_representative"},
        {**data, "area": "Área sin cuentas " + body.comunicacion},
        {**data, "started_at": "2026-11-28T05:30:00"},
    ]
    for case in cases:
        resp = await client.post("/v1/handovers", json=case, headers=admin)
        assert resp.status_code == 422, (case.keys(), resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    await _nothing_created(client, body, body.comunicacion)
    for label in ("fb", "x", "ig"):
        assert body.gestores["out"] in await _active(client, body.accounts[label])
    departed = {**data, "incoming": {**data["incoming"], "gestor_id": body.gestores["dep"]}}
    resp = await client.post("/v1/handovers", json=departed, headers=admin)
    assert resp.status_code == 409, resp.text
    await _nothing_created(client, body, body.comunicacion)


async def test_list_render_audit_and_roles(
    client: Client, admin: dict[str, str], auditor: dict[str, str]
) -> None:
    body = await seed_body(client, admin)
    created = await _create(client, admin, body)
    listed = await client.get("/v1/handovers", params={"area": body.comunicacion}, headers=auditor)
    assert [h["id"] for h in listed.json()] == [created["id"]]
    resp = await client.get(
        f"/v1/handovers/{created['id']}", params={"format": "md"}, headers=auditor
    )
    assert resp.status_code == 200
    async with runtime_of(client).sessions() as session:
        actions = list(
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject == f"handover:{created['id']}")
                .order_by(AuditEvent.seq)
            )
        )
    assert actions == ["handover.created", "handover.rendered"]
    refused = await client.post("/v1/handovers", json=handover_body(body), headers=auditor)
    assert refused.status_code == 403
    assert (
        await client.post(f"/v1/handovers/{created['id']}/close", headers=auditor)
    ).status_code == 403
    missing = await client.get("/v1/handovers/nope", headers=admin)
    assert missing.status_code == 404
    bad = await client.get(
        f"/v1/handovers/{created['id']}", params={"format": "odt"}, headers=admin
    )
    assert bad.status_code == 400 and "pdf, md, json" in bad.json()["detail"]


async def _small_area(client: Client, admin: dict[str, str]) -> Body:
    """An área with one official account and the two gestores of a handover."""
    area = uid("Área de entrega")
    body = Body(comunicacion=area, proteccion=area)
    body.accounts["x"] = await create_account(client, admin, area=area)
    for label in ("out", "in"):
        body.names[label] = uid(f"Gestor {label}")
        body.gestores[label] = await create_gestor(client, admin, area=area, name=body.names[label])
    return body


async def test_a_handover_never_ends_an_assignment_before_it_began(
    client: Client, admin: dict[str, str]
) -> None:
    body = await _small_area(client, admin)
    # Assigned an hour ahead of the service's clock (a replica's clock ran fast).
    later = datetime.now(UTC) + timedelta(hours=1)
    await insert_assignment(runtime_of(client), body.accounts["x"], body.gestores["out"], at=later)
    await _create(client, admin, body)
    async with runtime_of(client).sessions() as session:
        row = await session.scalar(
            select(Assignment).where(Assignment.gestor_id == body.gestores["out"])
        )
    assert row is not None
    assert row.ended_reason == "handover" and row.ended_at == later


async def test_concurrent_handovers_get_distinct_folios(
    client: Client, admin: dict[str, str]
) -> None:
    first, second = (await _small_area(client, admin), await _small_area(client, admin))
    created = await asyncio.gather(
        client.post("/v1/handovers", json=handover_body(first), headers=admin),
        client.post("/v1/handovers", json=handover_body(second), headers=admin),
    )
    assert [r.status_code for r in created] == [201, 201], [r.text for r in created]
    folios = {r.json()["folio"] for r in created}
    assert len(folios) == 2
