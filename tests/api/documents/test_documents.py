"""Protocolo de seguridad over HTTP: live content, formats, audit, canaries, Vault down."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest
from sqlalchemy import select

from service.db.models import AuditEvent
from service.documents.markdown import escape
from tests.support.apps import VAULT_DOWN, AppFactory, Client, bearer, runtime_of
from tests.support.pdf import pdf_pages, pdf_text, squash
from tests.support.public_body import handover_body, seed_body

URL = "/v1/documents/security-protocol"


async def _event(client: Client, seq: int) -> AuditEvent:
    async with runtime_of(client).sessions() as session:
        row = await session.scalar(select(AuditEvent).where(AuditEvent.seq == seq))
    assert row is not None
    return row


async def test_protocol_in_every_format_from_live_data(
    client: Client, admin: dict[str, str]
) -> None:
    body = await seed_body(client, admin)
    resp = await client.get(URL, params={"format": "json"}, headers=admin)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.headers["x-content-sha256"] == hashlib.sha256(resp.content).hexdigest()
    doc = resp.json()
    mine = {a["handle"]: a for a in doc["accounts"] if a["area"] == body.comunicacion}
    assert set(mine) == {body.handles[k] for k in ("fb", "x", "ig")}  # retired one is gone
    fb = mine[body.handles["fb"]]
    assert fb["verified"] is True
    assert fb["two_factor_method"].startswith("TOTP")
    assert fb["recovery_channels"] and all("•" in c for c in fb["recovery_channels"])
    assert any(c.endswith("@santamaria.gob.mx") for c in fb["recovery_channels"])
    holders = {h["name"]: h for h in fb["holders"]}
    assert holders[body.names["out"]]["responsiva_accepted_at"] is not None
    assert holders[body.names["ext"]]["kind"] == "externo"
    assert holders[body.names["ext"]]["responsiva_accepted_at"] is None
    # The departed gestor holds nothing; departure and incident obligations are listed.
    x_holders = [h["name"] for h in mine[body.handles["x"]]["holders"]]
    assert body.names["dep"] not in x_holders
    reasons = {o["handle"]: o["reason"] for o in doc["obligations"]}
    assert reasons[body.handles["x"]] == "gestor_departure"
    assert reasons[body.handles["yt"]] == "incident"
    assert [p["case"] for p in doc["procedures"]] == [
        "sustraccion",
        "extravio",
        "acceso_no_autorizado",
    ]
    assert doc["policy"]["incident_hours"] == 1
    assert doc["content_sha256"] == resp.headers["x-content-hash-printed"]
    event = await _event(client, doc["audit_head"]["seq"] + 1)
    assert event.action == "document.security_protocol"
    assert doc["audit_head"]["hash"] == event.prev_hash  # the head just before its own event
    assert json.loads(event.details)["version"] == doc["version"]

    md = await client.get(URL, params={"format": "md"}, headers=admin)
    assert md.status_code == 200
    assert md.headers["content-type"] == "text/markdown; charset=utf-8"
    assert "filename=" in md.headers["content-disposition"]
    assert escape(body.handles["ig"]) in md.text and "Décima quinta" in md.text

    pdf = await client.get(URL, headers=admin)  # PDF is the default
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].endswith('.pdf"')
    assert pdf.headers["x-content-sha256"] == hashlib.sha256(pdf.content).hexdigest()
    text = pdf_text(pdf.content)
    pages = pdf_pages(pdf.content)
    for page_no, page in enumerate(pages, 1):
        assert f"Hoja {page_no} de {len(pages)}" in page
    version = int(pdf.headers["x-document-version"])
    assert version == doc["version"] + 2
    for needle in (
        "Protocolo de seguridad",
        "Décima quinta",
        "Sustracción",
        "Extravío",
        "Acceso no autorizado",
        "POST /v1/incidents",
        "Prestador de servicios externo".lower(),
        body.handles["fb"],
        body.names["out"],
        "Estrategia Digital Ñandú",
        f"seq {pdf.headers['x-audit-head-seq']}",
        pdf.headers["x-content-hash-printed"],
        "UTC+00:00",
    ):
        assert squash(needle) in squash(text), needle


async def test_versions_count_generations(
    client: Client, admin: dict[str, str], auditor: dict[str, str]
) -> None:
    first = await client.get(URL, params={"format": "json"}, headers=admin)
    second = await client.get(URL, params={"format": "json"}, headers=auditor)
    assert second.json()["version"] == first.json()["version"] + 1
    assert second.json()["audit_head"]["seq"] > first.json()["audit_head"]["seq"]


async def test_unknown_format_is_400_listing_the_accepted(
    client: Client, admin: dict[str, str]
) -> None:
    resp = await client.get(URL, params={"format": "docx"}, headers=admin)
    assert resp.status_code == 400
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert "pdf, md, json" in resp.json()["detail"]
    assert resp.json()["accepted"] == ["pdf", "md", "json"]
    directory = await client.get("/v1/public/directory", params={"format": "xlsx"})
    assert directory.status_code == 400 and "json, csv" in directory.json()["detail"]


async def test_gestor_and_anonymous_cannot_read_the_protocol(
    client: Client, admin: dict[str, str]
) -> None:
    body = await seed_body(client, admin)
    assert (await client.get(URL)).status_code == 401
    assert (await client.get(URL, headers=body.outgoing_headers)).status_code == 403


async def test_no_canary_in_any_document_or_format(client: Client, admin: dict[str, str]) -> None:
    body = await seed_body(client, admin)
    created = await client.post("/v1/handovers", json=handover_body(body), headers=admin)
    assert created.status_code == 201, created.text
    handover = created.json()["id"]
    outputs: list[str] = []
    for fmt in ("pdf", "md", "json"):
        for url in (URL, f"/v1/handovers/{handover}"):
            resp = await client.get(url, params={"format": fmt}, headers=admin)
            assert resp.status_code == 200, resp.text
            outputs.append(pdf_text(resp.content) if fmt == "pdf" else resp.text)
            outputs.append(resp.content.decode("latin-1"))
    closed = await client.post(f"/v1/handovers/{handover}/close", headers=admin)
    assert closed.status_code == 200
    outputs.append(closed.text)
    for fmt in ("json", "csv"):
        outputs.append((await client.get("/v1/public/directory", params={"format": fmt})).text)
    joined = "\n".join(outputs)
    assert body.handles["fb"] in joined  # the search works on these outputs
    for canary in body.canaries:
        assert canary not in joined, "a secret reached a document"


async def test_documents_are_built_while_vault_is_down(
    client: Client, admin: dict[str, str], make_client: AppFactory
) -> None:
    body = await seed_body(client, admin)
    created = await client.post("/v1/handovers", json=handover_body(body), headers=admin)
    assert created.status_code == 201, created.text
    down = await make_client(**VAULT_DOWN)
    assert not (await runtime_of(down).vault.health()).ok
    headers = await bearer(down, "admin", "vault-down")
    for fmt in ("pdf", "md", "json"):
        protocol = await down.get(URL, params={"format": fmt}, headers=headers)
        assert protocol.status_code == 200, protocol.text
        acta = await down.get(
            f"/v1/handovers/{created.json()['id']}", params={"format": fmt}, headers=headers
        )
        assert acta.status_code == 200, acta.text
    data = (await down.get(URL, params={"format": "json"}, headers=headers)).json()
    fb = next(a for a in data["accounts"] if a["handle"] == body.handles["fb"])
    assert fb["two_factor_method"].startswith("TOTP") and fb["recovery_channels"]
    directory = await down.get("/v1/public/directory", params={"format": "csv"})
    assert directory.status_code == 200 and body.handles["fb"] in directory.text


@pytest.mark.parametrize("page_size", ["A4", "Letter"])
async def test_pdf_page_size_setting(make_client: AppFactory, page_size: str) -> None:
    other = await make_client(pdf_page_size=page_size)
    headers = await bearer(other, "admin", "page-size")
    resp = await other.get(URL, headers=headers)
    import io

    from pypdf import PdfReader

    box = PdfReader(io.BytesIO(resp.content)).pages[0].mediabox
    assert round(float(box.width)) == (595 if page_size == "A4" else 612)


async def test_demo_seed_fills_a_body_once_and_documents_render(
    client: Client, admin: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from service.demo.seed import MARK, run_demo_seed

    settings = runtime_of(client).settings
    assert await run_demo_seed(settings) == 0
    printed = capsys.readouterr().out
    assert "handover ER-" in printed and "departure" in printed and "incident" in printed
    assert await run_demo_seed(settings) == 1  # refuses clearly the second time
    assert "already seeded" in capsys.readouterr().out
    protocol = (await client.get(URL, params={"format": "json"}, headers=admin)).json()
    handles = {a["handle"] for a in protocol["accounts"]}
    assert MARK in handles and "demo_pc_alertas" in handles
    reasons = {o["handle"]: o["reason"] for o in protocol["obligations"]}
    assert reasons["demo_presidencia_envivo"] in ("incident", "gestor_departure")
    listed = (
        await client.get("/v1/handovers", params={"area": "Comunicación Social"}, headers=admin)
    ).json()
    assert listed and listed[0]["status"] == "closed"
    pdf = await client.get(f"/v1/handovers/{listed[0]['id']}", headers=admin)
    assert squash("Décima sexta") in squash(pdf_text(pdf.content))
    directory = await client.get("/v1/public/directory", params={"format": "csv"})
    assert "presidenta_smr" in directory.text


async def test_concurrent_protocols_get_distinct_versions_and_their_own_heads(
    client: Client, admin: dict[str, str]
) -> None:
    answers = await asyncio.gather(
        *(client.get(URL, params={"format": "json"}, headers=admin) for _ in range(2))
    )
    assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
    versions = {r.json()["version"] for r in answers}
    assert len(versions) == 2
    for resp in answers:
        doc = resp.json()
        # The printed head is the event just before this generation's own.
        event = await _event(client, doc["audit_head"]["seq"] + 1)
        assert event.action == "document.security_protocol"
        assert json.loads(event.details)["version"] == doc["version"]
