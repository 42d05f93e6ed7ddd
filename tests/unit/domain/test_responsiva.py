"""The responsiva: Spanish text per Décima quinta, version and hash."""

from __future__ import annotations

import hashlib
import re

import pytest

from service.domain.responsiva import (
    RESPONSIVA_SHA256,
    RESPONSIVA_TEXT,
    RESPONSIVA_VERSION,
    acceptance_is_current,
    current_responsiva,
)


def test_hash_is_of_the_exact_text() -> None:
    current = current_responsiva()
    assert current.text == RESPONSIVA_TEXT
    assert current.version == RESPONSIVA_VERSION
    assert current.sha256 == hashlib.sha256(RESPONSIVA_TEXT.encode("utf-8")).hexdigest()
    assert current.sha256 == RESPONSIVA_SHA256
    assert re.fullmatch(r"[0-9a-f]{64}", current.sha256)


def test_version_format() -> None:
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}\.\d+", RESPONSIVA_VERSION)


@pytest.mark.parametrize(
    "phrase",
    [
        "Décima quinta",
        "Décima sexta",
        "resguardo y cuidado",
        "sustracción, extravío o acceso no autorizado",
        "protocolo de seguridad",
        "deje de fungir como gestor",
        "serán modificadas",
        "personal e intransferible",
        "bitácora de auditoría",
        "entrega-recepción",
        "órgano interno de control",
        "CONAIP/SNT/ACUERDO/EXT01-18/06/2019-03",
    ],
)
def test_text_says(phrase: str) -> None:
    assert phrase in RESPONSIVA_TEXT


@pytest.mark.parametrize("unaccented", ["Decima quinta", "contrasena", "informacion", "bitacora"])
def test_text_keeps_its_accents(unaccented: str) -> None:
    assert unaccented not in RESPONSIVA_TEXT


@pytest.mark.parametrize(
    ("version", "sha256", "current"),
    [
        (RESPONSIVA_VERSION, RESPONSIVA_SHA256, True),
        ("2020-01-01.1", RESPONSIVA_SHA256, False),
        (RESPONSIVA_VERSION, "0" * 64, False),
        (None, None, False),
    ],
)
def test_acceptance_is_current(version: str | None, sha256: str | None, current: bool) -> None:
    assert acceptance_is_current(version, sha256) is current
