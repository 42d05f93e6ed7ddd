"""Acta de entrega-recepción: content, signatures on every page, reproducible annex hash."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json

import pypdf
import pytest

from service.demo.sample import sample_acta
from service.documents.acta import (
    acta_to_json,
    annex_canonical_bytes,
    annex_from_json,
    annex_sha256,
    annex_to_json,
    build_acta,
)
from service.documents.content import Party
from service.documents.markdown import render_markdown
from service.documents.pdf import render_pdf


def pdf_pages(data: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


@pytest.fixture(scope="module")
def acta_pdf() -> list[str]:
    return pdf_pages(render_pdf(build_acta(sample_acta(accounts=30))))


def test_pdf_has_every_required_element(acta_pdf: list[str]) -> None:
    acta = sample_acta(accounts=30)
    text = " ".join(acta_pdf)
    for needed in (
        "Acta de entrega-recepción",
        "ER-ASMR-2025-007",
        "Sala de Cabildo, Palacio Municipal",
        "Inicio 14/03/2025 10:30:00 UTC-06:00",
        "Conclusión 14/03/2025 12:45:00 UTC-06:00",
        "Décima sexta",
        "Conclusión del encargo de la titular del área",
        "OIC/0457/2025",
        "gestor:rgomez",
        "Las contraseñas no se imprimen",
        "con su propio segundo factor (TOTP)",
        "bitácora de auditoría",
        "Anexo: inventario de cuentas y custodia (30 cuentas)",
        "SHA-256 del anexo",
        annex_sha256(acta.annex),
        "Cadena de auditoría al cierre",
        "seq 48213",
        "Asuntos pendientes (5)",
        "Última extracción de quien entrega",
        "Extracciones en el periodo",
        "Versión 3",
        "antigüedad máxima",
    ):
        assert needed in text, needed


def test_every_page_carries_every_signature_and_its_number(acta_pdf: list[str]) -> None:
    acta = sample_acta(accounts=30)
    total = len(acta_pdf)
    assert total >= 4  # enough annex rows to span several pages
    for number, page in enumerate(acta_pdf, 1):
        assert f"Hoja {number} de {total}" in page
        for role, party in acta.signatories:
            assert party.name in page, (number, role)
            assert role in page, (number, role)


def test_open_acta_says_so_and_has_no_chain_head_yet() -> None:
    md = render_markdown(build_acta(sample_acta(accounts=2, closed=False)))
    assert "Acta abierta: sin concluir" in md
    assert "Pendiente: se registra al cerrar el acta." in md


def test_markdown_lists_the_signatures_and_the_annex() -> None:
    acta = sample_acta(accounts=7)
    md = render_markdown(build_acta(acta))
    assert "## Firmas" in md
    assert "| Testigo 2 | Óscar Iván Méndez Villaseñor | Coordinador de Difusión |  |" in md
    assert annex_sha256(acta.annex) in md
    assert md.count("Última extracción de quien entrega") == 7


def test_fewer_than_two_witnesses_is_refused() -> None:
    acta = sample_acta(accounts=1)
    with pytest.raises(ValueError, match="two witnesses"):
        dataclasses.replace(acta, witnesses=(Party("Una Sola", "Testigo"),))


def test_annex_hash_is_sha256_of_the_documented_canonical_json() -> None:
    annex = sample_acta(accounts=4).annex
    expected = json.dumps(
        sorted(annex_to_json(annex), key=lambda r: (r["platform"], r["handle"], r["url"])),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    assert annex_canonical_bytes(annex) == expected
    assert annex_sha256(annex) == hashlib.sha256(expected).hexdigest()
    assert "Comunicación".encode() in expected or "ó".encode() in expected


def test_annex_hash_ignores_row_order_but_not_content() -> None:
    annex = sample_acta(accounts=6).annex
    assert annex_sha256(tuple(reversed(annex))) == annex_sha256(annex)
    changed = (dataclasses.replace(annex[0], checkouts_in_period=99), *annex[1:])
    assert annex_sha256(changed) != annex_sha256(annex)


def test_annex_survives_a_json_round_trip_with_the_same_hash() -> None:
    annex = sample_acta(accounts=8).annex
    stored = json.loads(json.dumps(annex_to_json(annex)))
    rebuilt = annex_from_json(stored)
    assert annex_sha256(rebuilt) == annex_sha256(annex)
    assert sorted(rebuilt, key=lambda r: r.handle) == sorted(annex, key=lambda r: r.handle)


def test_json_shape() -> None:
    acta = sample_acta(accounts=3)
    data = acta_to_json(acta)
    assert data["document"] == "acta_entrega_recepcion"
    assert data["started_at"] == "2025-03-14T10:30:00-06:00"
    assert data["annex_sha256"] == annex_sha256(acta.annex)
    assert data["oic_representative"] == {
        "name": "Lic. Ramón Téllez Ruíz",
        "cargo": "Auditor del Órgano Interno de Control",
        "oficio": "OIC/0457/2025",
    }
    assert len(data["witnesses"]) == 2
    assert data["audit_head"]["seq"] == 48213
    assert "Décima sexta" in data["legal_basis"]
    assert [p["overdue"] for p in data["pending"]] == [False]
    assert set(data["annex"][0]) >= {
        "platform",
        "handle",
        "url",
        "kind",
        "verified",
        "recovery_channels",
        "two_factor_method",
        "two_factor_holder",
        "credential_version",
        "credential_created_at",
        "last_rotation_at",
        "last_rotation_reason",
        "gestores",
        "outgoing_last_retrieval",
        "checkouts_in_period",
        "open_obligations",
    }
    json.dumps(data)
