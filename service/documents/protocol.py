"""Protocolo de seguridad (Décima quinta): fixed procedures plus live custody data.

JSON shape (``schema_version`` 1), stable for the API and ``openapi.yaml``::

    document            "protocolo_de_seguridad"
    schema_version      1
    sujeto_obligado, siglas, areas[], version, generated_at (ISO 8601)
    audit_head          {seq, hash}
    policy              {departure_hours, unassigned_hours, handover_hours,
                         incident_hours, manual_hours, max_age_days, max_age_grace_days}
    accounts[]          {platform, handle, url, area, kind, verified, two_factor_method,
                         recovery_channels[] (masked),
                         holders[] {name, kind, cargo, provider, responsiva_accepted_at}}
    obligations[]       {id, platform, handle, reason, triggered_at, due_at, overdue}
    contacts[]          {role, name, reach, escalate_after_minutes}
    procedures[]        {case, title, definition, report[], service[], platform[], evidence[]}
    content_sha256      SHA-256 of the canonical JSON of all the keys above
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from service.documents.content import (
    CustodyAccount,
    Holder,
    Obligation,
    SecurityProtocol,
    to_jsonable,
)
from service.documents.layout import (
    Block,
    Bullets,
    Document,
    Fields,
    Heading,
    Paragraph,
    Table,
    fmt_datetime,
    gestor_label,
    kind_label,
    obligations_table,
    platform_label,
    yes_no,
)
from service.documents.procedures import Procedure, procedures

TITLE = "Protocolo de seguridad de las cuentas oficiales de redes sociales digitales"
SCHEMA_VERSION = 1

FOUNDATION = (
    "Este protocolo atiende el numeral Décima quinta de las Políticas Generales para la "
    "Difusión de Información Pública mediante las Redes Sociales Digitales: todas las "
    "personas con acceso a las contraseñas de las cuentas oficiales son responsables de su "
    "resguardo y cuidado, y aceptan una responsiva antes de cualquier extracción. Las "
    "contraseñas se resguardan en custodia; este documento no contiene ninguna contraseña, "
    "semilla de segundo factor ni código de respaldo."
)


def _obligation_json(o: Obligation, p: SecurityProtocol) -> dict[str, Any]:
    return {**to_jsonable(o), "overdue": o.overdue_at(p.generated_at)}


def _body_json(p: SecurityProtocol) -> dict[str, Any]:
    return {
        "document": "protocolo_de_seguridad",
        "schema_version": SCHEMA_VERSION,
        "sujeto_obligado": p.sujeto_obligado,
        "siglas": p.siglas,
        "areas": list(p.areas),
        "version": p.version,
        "generated_at": p.generated_at.isoformat(),
        "audit_head": to_jsonable(p.audit_head),
        "policy": to_jsonable(p.policy),
        "accounts": to_jsonable(p.accounts),
        "obligations": [_obligation_json(o, p) for o in p.obligations],
        "contacts": to_jsonable(p.contacts),
        "procedures": to_jsonable(procedures(p.policy)),
    }


def _digest(body: dict[str, Any]) -> str:
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def protocol_sha256(p: SecurityProtocol) -> str:
    """SHA-256 of the protocol's content (canonical JSON without this field)."""
    return _digest(_body_json(p))


def protocol_to_json(p: SecurityProtocol) -> dict[str, Any]:
    """The JSON form; see the module docstring for its shape."""
    body = _body_json(p)
    return {**body, "content_sha256": _digest(body)}


def _holder_line(h: Holder) -> str:
    accepted = fmt_datetime(h.responsiva_accepted_at) if h.responsiva_accepted_at else "PENDIENTE"
    return f"{gestor_label(h)}; responsiva: {accepted}"


def _account_row(a: CustodyAccount) -> tuple[str, ...]:
    channels = ", ".join(a.recovery_channels) or "sin canales registrados"
    holders = "\n".join(_holder_line(h) for h in a.holders) or "Nadie con acceso vigente"
    return (
        f"{platform_label(a.platform)}\n{a.handle}\n{a.url}",
        f"{a.area}\n{kind_label(a.kind)}\nVerificada: {yes_no(a.verified)}",
        f"2FA: {a.two_factor_method}\nRecuperación: {channels}",
        holders,
    )


def _procedure_blocks(number: int, proc: Procedure) -> list[Block]:
    return [
        Heading(f"{number}. Procedimiento en caso de {proc.title.lower()}"),
        Paragraph(proc.definition),
        Heading("Cómo reportarlo en el servicio", 2),
        Bullets(proc.report, ordered=True),
        Heading("Lo que el servicio hace de inmediato", 2),
        Bullets(proc.service),
        Heading("Lo que deben hacer las personas en la plataforma", 2),
        Bullets(proc.platform, ordered=True),
        Heading("Evidencia que debe conservarse", 2),
        Bullets(proc.evidence),
    ]


def build_protocol(p: SecurityProtocol) -> Document:
    """Lay out the protocol for the PDF and Markdown renderers."""
    pol = p.policy
    name = f"{p.sujeto_obligado} ({p.siglas})" if p.siglas else p.sujeto_obligado
    accounts = sorted(p.accounts, key=lambda a: (a.area, a.platform, a.handle))
    blocks: list[Block] = [
        Fields(
            (
                ("Sujeto obligado", name),
                ("Versión", str(p.version)),
                ("Generado", fmt_datetime(p.generated_at)),
                ("Cadena de auditoría", f"seq {p.audit_head.seq}, hash {p.audit_head.hash}"),
                ("SHA-256 del contenido", protocol_sha256(p)),
            )
        ),
        Heading("1. Fundamento y alcance"),
        Paragraph(FOUNDATION),
        Heading("2. Sujeto obligado y áreas"),
        Bullets(p.areas or ("Sin áreas registradas",)),
        Heading(f"3. Cuentas en custodia ({len(accounts)})"),
        Table(
            ("Cuenta", "Área, tipo y verificación", "Segundo factor y recuperación", "Acceso"),
            tuple(_account_row(a) for a in accounts),
            (30, 22, 26, 32),
        ),
        Heading("4. Política de rotación vigente"),
        Table(
            ("Motivo", "Plazo para cambiar la contraseña"),
            (
                ("Baja de un gestor", f"{pol.departure_hours} h"),
                ("Desasignación de un gestor", f"{pol.unassigned_hours} h"),
                ("Entrega-recepción", f"{pol.handover_hours} h"),
                ("Incidente de seguridad", f"{pol.incident_hours} h"),
                ("Solicitud manual", f"{pol.manual_hours} h"),
                (
                    "Antigüedad máxima de la contraseña",
                    f"{pol.max_age_days} días, más {pol.max_age_grace_days} días de gracia",
                ),
            ),
            (50, 50),
        ),
        Heading(f"5. Obligaciones de rotación abiertas o vencidas ({len(p.obligations)})"),
        obligations_table(p.obligations, p.generated_at)
        if p.obligations
        else Paragraph("No hay obligaciones de rotación abiertas ni vencidas."),
        Heading("6. Contactos y escalamiento"),
        Table(
            ("Nivel", "Función", "Nombre", "Contacto", "Escalar si no responde en"),
            tuple(
                (
                    str(i),
                    c.role,
                    c.name,
                    c.reach,
                    f"{c.escalate_after_minutes} min" if c.escalate_after_minutes else "—",
                )
                for i, c in enumerate(p.contacts, 1)
            ),
            (8, 22, 24, 30, 16),
        )
        if p.contacts
        else Paragraph("No hay contactos registrados: configúrelos antes de publicar."),
    ]
    for i, proc in enumerate(procedures(pol), 7):
        blocks.extend(_procedure_blocks(i, proc))
    return Document(
        title=TITLE,
        blocks=tuple(blocks),
        running_head=f"{TITLE} · {name} · versión {p.version}",
        author=p.sujeto_obligado,
        created_at=p.generated_at,
    )
