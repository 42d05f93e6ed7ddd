"""Directorio público: CSV that spreadsheets read with accents, JSON, and speed."""

from __future__ import annotations

import csv
import io

from service.demo.sample import sample_directory
from service.directory.document import (
    HEADER,
    directory_csv,
    directory_to_json,
    iter_directory_csv,
)


def parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_csv_starts_with_bom_and_spanish_header() -> None:
    data = directory_csv(sample_directory(3))
    assert data.startswith("\ufeff".encode())
    rows = parse(data)
    assert rows[0] == list(HEADER)
    assert rows[0][1] == "Área"
    assert rows[0][-1] == "Fecha de actualización"
    assert len(rows) == 4


def test_csv_rows_carry_public_fields_only() -> None:
    rows = parse(directory_csv(sample_directory(10)))
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first == {
        "Sujeto obligado": "Ayuntamiento de Santa María del Río",
        "Área": "Comunicación Social",
        "Plataforma": "Facebook",
        "Tipo de cuenta": "oficial",
        # "@…" could start a formula in a spreadsheet: written as text (OWASP).
        "Nombre de la cuenta": "'@asmr_comunicación_0",
        "URL": "https://www.facebook.com/asmr_comunicación_0",
        "Verificada": "Sí",
        "Fecha de actualización": "2025-03-01",
    }
    personal = dict(zip(rows[0], rows[10], strict=True))
    assert personal["Tipo de cuenta"] == "personal de servidor público"


def test_gestores_column_only_when_enabled() -> None:
    rows = sample_directory(4)
    hidden = parse(directory_csv(rows))
    shown = parse(directory_csv(rows, show_gestores=True))
    assert len(hidden[0]) == 8
    assert shown[0][-1] == "Gestores con acceso a la contraseña"
    cell = shown[1][-1] + shown[3][-1]
    assert "(servidor público: Jefa del Departamento de Comunicación Social)" in cell
    assert "(prestador de servicios externo: " in cell
    assert "Gestores" not in "".join(hidden[0])


def test_streaming_chunks_join_to_the_whole_file() -> None:
    rows = sample_directory(4500)
    chunks = list(iter_directory_csv(rows, show_gestores=True))
    assert len(chunks) == 3  # 2,000 rows per chunk, then the rest
    assert "".join(chunks).encode() == directory_csv(rows, show_gestores=True)
    assert chunks[0].startswith("\ufeff") and not chunks[1].startswith("\ufeff")


def test_json_has_only_public_keys() -> None:
    rows = sample_directory(3)
    plain = directory_to_json(rows)
    assert set(plain[0]) == {
        "sujeto_obligado",
        "area",
        "platform",
        "kind",
        "account_name",
        "url",
        "verified",
        "updated_at",
    }
    with_gestores = directory_to_json(rows, show_gestores=True)
    assert set(with_gestores[0]["gestores"][0]) == {"name", "kind", "cargo", "provider"}
    assert plain[0]["updated_at"] == "2025-03-01"


def test_many_rows_make_one_line_each() -> None:
    # Speed is measured in bench/documents.py, never asserted here.
    rows = sample_directory(5_000)
    data = directory_csv(rows, show_gestores=True)
    assert data.count(b"\r\n") == 5_001
