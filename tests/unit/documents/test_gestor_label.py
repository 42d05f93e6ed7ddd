"""One wording of a gestor's capacity (Décima segunda) for the directorio, actas and protocol."""

from __future__ import annotations

import pytest

from service.demo.sample import sample_acta, sample_directory
from service.directory.document import directory_csv
from service.documents.acta import build_acta
from service.documents.content import Gestor
from service.documents.layout import gestor_label
from service.documents.markdown import render_markdown


@pytest.mark.parametrize(
    ("gestor", "label"),
    [
        (
            Gestor("Ana Pérez", "servidor_publico", cargo="Jefa de Redes"),
            "Ana Pérez (servidor público: Jefa de Redes)",
        ),
        (Gestor("Ana Pérez", "servidor_publico"), "Ana Pérez (servidor público)"),
        (
            Gestor("Itzel Cárdenas", "externo", provider="Contenidos del Bajío, S.A."),
            "Itzel Cárdenas (prestador de servicios externo: Contenidos del Bajío, S.A.)",
        ),
        (Gestor("Itzel Cárdenas", "externo"), "Itzel Cárdenas (prestador de servicios externo)"),
        # The cargo belongs to servidores públicos, the firm to externos; never the other.
        (
            Gestor("Luis Ávila", "servidor_publico", cargo="Director", provider="Agencia SA"),
            "Luis Ávila (servidor público: Director)",
        ),
        (
            Gestor("Luis Ávila", "externo", cargo="Director", provider="Agencia SA"),
            "Luis Ávila (prestador de servicios externo: Agencia SA)",
        ),
    ],
)
def test_gestor_label(gestor: Gestor, label: str) -> None:
    assert gestor_label(gestor) == label


def test_directorio_and_acta_word_a_gestor_alike() -> None:
    rows = sample_directory(4)
    acta = sample_acta(accounts=4)
    directorio = directory_csv(rows, show_gestores=True).decode("utf-8-sig")
    markdown = render_markdown(build_acta(acta))
    gestores = {g for r in rows for g in r.gestores} | {g for r in acta.annex for g in r.gestores}
    assert {g.kind for g in gestores} == {"servidor_publico", "externo"}
    for g in gestores:
        if any(g in r.gestores for r in rows):
            assert gestor_label(g) in directorio
        if any(g in r.gestores for r in acta.annex):
            assert gestor_label(g) in markdown
