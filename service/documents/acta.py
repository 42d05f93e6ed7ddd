"""Acta de entrega-recepción (Décima sexta) with its inventory annex of accounts.

Annex hash: rows sorted by (platform, handle, url), each as :func:`to_jsonable`
gives it, serialised as canonical JSON (sorted keys, separators ``,`` ``:``,
non-ASCII kept) and hashed with SHA-256. Anyone holding the annex JSON can redo it.

JSON shape (``schema_version`` 1)::

    document "acta_entrega_recepcion", schema_version, folio, sujeto_obligado, area,
    place, started_at, ended_at (ISO 8601 with offset, or null), reason, legal_basis,
    credential_delivery, outgoing {name, cargo}, incoming {name, cargo},
    incoming_identity, oic_representative {name, cargo, oficio}, witnesses[],
    annex[] (see AnnexRow), annex_sha256, audit_head {seq, hash} or null,
    pending[] {id, platform, handle, reason, triggered_at, due_at, overdue}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from service.documents.content import (
    AnnexRow,
    Gestor,
    HandoverActa,
    Obligation,
    to_jsonable,
)
from service.documents.layout import (
    Block,
    Document,
    Fields,
    Heading,
    Paragraph,
    Signature,
    Table,
    fmt_datetime,
    gestor_label,
    kind_label,
    obligation_line,
    obligations_table,
    platform_label,
    reason_label,
    yes_no,
)

TITLE = "Acta de entrega-recepción de las cuentas oficiales de redes sociales digitales"
SCHEMA_VERSION = 1

LEGAL_BASIS = (
    "Numeral Décima sexta de las Políticas Generales para la Difusión de Información Pública "
    "mediante las Redes Sociales Digitales (acuerdo CONAIP/SNT/ACUERDO/EXT01-18/06/2019-03): "
    "las contraseñas de acceso a las cuentas de redes sociales forman parte de la información "
    "que se incluye en los trámites de entrega-recepción, de conformidad con las leyes en la "
    "materia aplicables."
)

CREDENTIAL_DELIVERY = (
    "Las contraseñas no se imprimen en esta acta ni en su anexo, y ningún documento del "
    "servicio las contiene. Llegan a la persona que recibe por medio de la custodia: con esta "
    "acta queda asignada a las cuentas del área y cesan las asignaciones de la persona que "
    "entrega. Para obtener una contraseña, quien recibe acepta la responsiva y hace una "
    "extracción con su propio segundo factor (TOTP), como cualquier gestor; cada extracción "
    "queda registrada en la bitácora de auditoría. Cada cuenta listada tiene además una "
    "obligación de rotación por entrega-recepción, que solo se cumple cuando existe en "
    "custodia una contraseña nueva posterior a esta acta."
)

CLOSING = (
    "Leída la presente acta y su anexo, la firman al calce de cada una de sus hojas quienes "
    "en ella intervienen, para constancia. La huella SHA-256 del anexo permite comprobar que "
    "el inventario no se ha modificado después del cierre."
)


def _sorted_annex(rows: Iterable[AnnexRow]) -> list[AnnexRow]:
    return sorted(rows, key=lambda r: (r.platform, r.handle, r.url))


def annex_to_json(rows: Iterable[AnnexRow]) -> list[dict[str, Any]]:
    """The annex as JSON-ready dicts, in canonical row order."""
    data: list[dict[str, Any]] = to_jsonable(_sorted_annex(rows))
    return data


def annex_canonical_bytes(rows: Iterable[AnnexRow]) -> bytes:
    """The exact bytes the annex hash covers."""
    raw = json.dumps(annex_to_json(rows), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return raw.encode()


def annex_sha256(rows: Iterable[AnnexRow]) -> str:
    """Lowercase hex SHA-256 of :func:`annex_canonical_bytes`."""
    return hashlib.sha256(annex_canonical_bytes(rows)).hexdigest()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def obligation_from_json(d: Mapping[str, Any]) -> Obligation:
    """Rebuild an obligation from its JSON form (:func:`to_jsonable`)."""
    return Obligation(
        id=d["id"],
        platform=d["platform"],
        handle=d["handle"],
        reason=d["reason"],
        triggered_at=datetime.fromisoformat(d["triggered_at"]),
        due_at=datetime.fromisoformat(d["due_at"]),
    )


def annex_from_json(data: Iterable[Mapping[str, Any]]) -> tuple[AnnexRow, ...]:
    """Rebuild annex rows from :func:`annex_to_json` output, e.g. a frozen record."""
    return tuple(
        AnnexRow(
            platform=d["platform"],
            handle=d["handle"],
            url=d["url"],
            kind=d["kind"],
            verified=d["verified"],
            recovery_channels=tuple(d["recovery_channels"]),
            two_factor_method=d["two_factor_method"],
            two_factor_holder=d["two_factor_holder"],
            credential_version=d["credential_version"],
            credential_created_at=_dt(d["credential_created_at"]),
            last_rotation_at=_dt(d["last_rotation_at"]),
            last_rotation_reason=d["last_rotation_reason"],
            gestores=tuple(Gestor(**g) for g in d["gestores"]),
            outgoing_last_retrieval=_dt(d["outgoing_last_retrieval"]),
            checkouts_in_period=d["checkouts_in_period"],
            open_obligations=tuple(obligation_from_json(o) for o in d["open_obligations"]),
        )
        for d in data
    )


def _judged_at(acta: HandoverActa) -> datetime:
    # Pending matters are judged at closing; an open acta is judged at its start.
    return acta.ended_at or acta.started_at


def acta_to_json(acta: HandoverActa) -> dict[str, Any]:
    """The JSON form; see the module docstring for its shape."""
    at = _judged_at(acta)
    data: dict[str, Any] = to_jsonable(acta)
    data["annex"] = annex_to_json(acta.annex)
    data["pending"] = [{**to_jsonable(o), "overdue": o.overdue_at(at)} for o in acta.pending]
    return {
        "document": "acta_entrega_recepcion",
        "schema_version": SCHEMA_VERSION,
        **data,
        "legal_basis": LEGAL_BASIS,
        "credential_delivery": CREDENTIAL_DELIVERY,
        "annex_sha256": annex_sha256(acta.annex),
    }


def _annex_row(r: AnnexRow, at: datetime) -> tuple[str, ...]:
    version = (
        f"Versión {r.credential_version}\ncreada {fmt_datetime(r.credential_created_at)}"
        if r.credential_version is not None
        else "Sin versión en custodia"
    )
    rotation = (
        f"Última rotación: {fmt_datetime(r.last_rotation_at)} "
        f"({reason_label(r.last_rotation_reason)})"
        if r.last_rotation_at
        else "Sin rotación registrada"
    )
    channels = ", ".join(r.recovery_channels) or "sin canales registrados"
    return (
        f"{platform_label(r.platform)}\n{r.handle}\n{r.url}\n"
        f"{kind_label(r.kind)}; verificada: {yes_no(r.verified)}",
        f"2FA: {r.two_factor_method} ({r.two_factor_holder})\nRecuperación: {channels}",
        f"{version}\n{rotation}",
        "\n".join(gestor_label(g) for g in r.gestores) or "Sin gestores",
        f"Última extracción de quien entrega: {fmt_datetime(r.outgoing_last_retrieval)}\n"
        f"Extracciones en el periodo: {r.checkouts_in_period}",
        "\n".join(obligation_line(o, at) for o in r.open_obligations) or "Ninguna",
    )


def build_acta(acta: HandoverActa) -> Document:
    """Lay out the acta and its annex for the PDF and Markdown renderers."""
    at = _judged_at(acta)
    oic = acta.oic_representative
    head = acta.audit_head
    ended = fmt_datetime(acta.ended_at) if acta.ended_at else "Acta abierta: sin concluir"
    parties = [
        ("Entrega", acta.outgoing.name, acta.outgoing.cargo),
        ("Recibe", acta.incoming.name, acta.incoming.cargo),
        ("Órgano interno de control", oic.name, f"{oic.cargo}; oficio {oic.oficio}"),
    ] + [(f"Testigo {i}", w.name, w.cargo) for i, w in enumerate(acta.witnesses, 1)]
    blocks: list[Block] = [
        Fields(
            (
                ("Folio", acta.folio),
                ("Sujeto obligado", acta.sujeto_obligado),
                ("Área", acta.area),
                ("Lugar", acta.place),
                ("Inicio", fmt_datetime(acta.started_at)),
                ("Conclusión", ended),
                ("Motivo", acta.reason),
                ("Fundamento", "Numeral Décima sexta de las Políticas Generales"),
            )
        ),
        Heading("1. Fundamento legal"),
        Paragraph(LEGAL_BASIS),
        Heading("2. Quienes intervienen"),
        Table(("Carácter", "Nombre", "Cargo"), tuple(parties), (22, 34, 44)),
        Paragraph(
            f"Identidad en custodia que recibe las cuentas: {acta.incoming_identity}.", bold=True
        ),
        Heading("3. Entrega de las contraseñas"),
        Paragraph(CREDENTIAL_DELIVERY),
        Heading(f"4. Anexo: inventario de cuentas y custodia ({len(acta.annex)} cuentas)"),
        Fields((("SHA-256 del anexo", annex_sha256(acta.annex)),)),
        Table(
            ("Cuenta", "Acceso", "Credencial en custodia", "Gestores", "Uso", "Obligaciones"),
            tuple(_annex_row(r, at) for r in _sorted_annex(acta.annex)),
            (23, 19, 17, 21, 13, 14),
        ),
        Heading("5. Cadena de auditoría al cierre"),
        Fields((("Último evento", f"seq {head.seq}, hash {head.hash}"),))
        if head
        else Paragraph("Pendiente: se registra al cerrar el acta."),
        Heading(f"6. Asuntos pendientes ({len(acta.pending)})"),
        obligations_table(acta.pending, at)
        if acta.pending
        else Paragraph("No quedan asuntos pendientes."),
        Heading("7. Cierre"),
        Paragraph(CLOSING),
    ]
    return Document(
        title=TITLE,
        blocks=tuple(blocks),
        running_head=f"Acta de entrega-recepción · folio {acta.folio} · {acta.area}",
        author=acta.sujeto_obligado,
        created_at=acta.ended_at or acta.started_at,
        signatures=tuple(Signature(role, p.name, p.cargo) for role, p in acta.signatories),
    )
