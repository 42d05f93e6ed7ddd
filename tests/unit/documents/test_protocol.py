"""Protocolo de seguridad: PDF text, Markdown and JSON carry the required content."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import timedelta

import pypdf
import pytest

from service.demo.sample import sample_protocol
from service.documents.layout import Table
from service.documents.markdown import render_markdown
from service.documents.pdf import PageSize, render_pdf
from service.documents.protocol import build_protocol, protocol_sha256, protocol_to_json


def pdf_pages(data: bytes) -> list[str]:
    """Text of each page with whitespace collapsed, so wrapped names still match."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


@pytest.fixture(scope="module")
def protocol_pdf() -> list[str]:
    return pdf_pages(render_pdf(build_protocol(sample_protocol(accounts=40, gestores=9))))


def test_pdf_has_every_required_element(protocol_pdf: list[str]) -> None:
    text = " ".join(protocol_pdf)
    p = sample_protocol(accounts=40, gestores=9)
    for needed in (
        "Protocolo de seguridad",
        "Décima quinta",
        "Ayuntamiento de Santa María del Río (ASMR)",
        "Comunicación Social",
        "Protección Civil",
        "Cuentas en custodia (40)",
        "Política de rotación vigente",
        "Obligaciones de rotación abiertas o vencidas (2)",
        "VENCIDA",
        "Contactos y escalamiento",
        "Procedimiento en caso de sustracción",
        "Procedimiento en caso de extravío",
        "Procedimiento en caso de acceso no autorizado",
        "POST /v1/incidents",
        "Cierre todas las sesiones",
        "Revoque las aplicaciones",
        "segundo factor",
        "órgano interno de control",
        "Evidencia que debe conservarse",
        "vencimiento en 1 h",
        "prestador de servicios externo",
        "Estrategia Digital Ñandú, S.C.",
        f"seq {p.audit_head.seq}",
        p.audit_head.hash,
        protocol_sha256(p),
        "Versión 3",
    ):
        assert needed in text, needed
    # Long addresses may wrap inside their cell; the bullets must survive as glyphs.
    assert "r••••@santamariadelrio.gob.mx" in text.replace(" ", "")
    assert "••••••0007" in text


def test_every_page_is_numbered_hoja_x_de_y(protocol_pdf: list[str]) -> None:
    total = len(protocol_pdf)
    assert total > 1
    for number, page in enumerate(protocol_pdf, 1):
        assert f"Hoja {number} de {total}" in page


def test_every_holder_shows_the_responsiva_date(protocol_pdf: list[str]) -> None:
    text = " ".join(protocol_pdf)
    assert text.count("responsiva: ") >= 80  # two holders for each of 40 accounts


def test_page_size_follows_the_setting() -> None:
    doc = build_protocol(sample_protocol(accounts=3, gestores=2))
    sizes: tuple[tuple[PageSize, tuple[int, int]], ...] = (
        ("A4", (595, 842)),
        ("Letter", (612, 792)),
    )
    for size, (width, height) in sizes:
        box = pypdf.PdfReader(io.BytesIO(render_pdf(doc, page_size=size))).pages[0].mediabox
        assert (round(float(box.width)), round(float(box.height))) == (width, height)


def test_incident_deadline_follows_the_policy() -> None:
    p = sample_protocol(accounts=2, gestores=2)
    slow = dataclasses.replace(p, policy=dataclasses.replace(p.policy, incident_hours=4))
    assert "vencimiento en 4 h" in render_markdown(build_protocol(slow))
    assert "vencimiento en 1 h" not in render_markdown(build_protocol(slow))


def test_markdown_carries_the_same_tables_and_words() -> None:
    p = sample_protocol(accounts=12, gestores=5)
    doc = build_protocol(p)
    md = render_markdown(doc)
    assert md.startswith("# Protocolo de seguridad")
    assert "## 7. Procedimiento en caso de sustracción" in md
    assert "POST /v1/incidents" in md
    assert "\\_" in md  # handles like @asmr_comunicación_0 are escaped, not italicised
    rows = sum(len(b.rows) for b in doc.blocks if isinstance(b, Table))
    headers = sum(1 for b in doc.blocks if isinstance(b, Table))
    assert md.count("\n|---") == headers
    assert sum(1 for line in md.splitlines() if line.startswith("| ")) == rows + headers


def test_json_shape_is_stable_and_datetimes_are_iso() -> None:
    p = sample_protocol(accounts=3, gestores=2)
    data = protocol_to_json(p)
    assert list(data) == [
        "document",
        "schema_version",
        "sujeto_obligado",
        "siglas",
        "areas",
        "version",
        "generated_at",
        "audit_head",
        "policy",
        "accounts",
        "obligations",
        "contacts",
        "procedures",
        "content_sha256",
    ]
    assert data["generated_at"] == "2025-03-14T10:30:00-06:00"
    assert set(data["accounts"][0]["holders"][0]) == {
        "name",
        "kind",
        "cargo",
        "provider",
        "responsiva_accepted_at",
    }
    assert [o["overdue"] for o in data["obligations"]] == [True, False]
    assert [proc["case"] for proc in data["procedures"]] == [
        "sustraccion",
        "extravio",
        "acceso_no_autorizado",
    ]
    json.dumps(data)  # plain JSON types only


def test_content_hash_is_reproducible_and_tracks_content() -> None:
    p = sample_protocol(accounts=5, gestores=3)
    assert protocol_to_json(p)["content_sha256"] == protocol_sha256(p)
    assert protocol_sha256(p) == protocol_sha256(sample_protocol(accounts=5, gestores=3))
    later = dataclasses.replace(p, generated_at=p.generated_at + timedelta(seconds=1))
    assert protocol_sha256(later) != protocol_sha256(p)


def test_naive_datetimes_are_refused() -> None:
    p = sample_protocol(accounts=1, gestores=1)
    with pytest.raises(ValueError, match="timezone-aware"):
        dataclasses.replace(p, generated_at=p.generated_at.replace(tzinfo=None))
