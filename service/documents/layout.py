"""Neutral document structure shared by the PDF and Markdown renderers, and its wording.

Builders turn content into a :class:`Document`; renderers only lay it out, so the
PDF and the Markdown of one document always carry the same words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from service.documents.content import Gestor, Obligation


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 1


@dataclass(frozen=True)
class Paragraph:
    text: str
    bold: bool = False


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]
    ordered: bool = False


@dataclass(frozen=True)
class Fields:
    """Label/value pairs, such as the data block at the top of an acta."""

    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    """A table; cells may hold several lines separated by newlines."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...]  # relative; the PDF renderer scales them to the page

    def __post_init__(self) -> None:
        if len(self.widths) != len(self.header):
            raise ValueError("a table needs one width per column")
        if any(len(r) != len(self.header) for r in self.rows):
            raise ValueError("every row needs one cell per column")


Block = Heading | Paragraph | Bullets | Fields | Table


@dataclass(frozen=True)
class Signature:
    """A signature box: role under the line, then name and cargo."""

    role: str
    name: str
    cargo: str


@dataclass(frozen=True)
class Document:
    """A titled sequence of blocks; signatures go on every printed page."""

    title: str
    blocks: tuple[Block, ...]
    running_head: str = ""
    author: str = ""
    created_at: datetime | None = None
    signatures: tuple[Signature, ...] = field(default=())


REASONS = {
    "gestor_departure": "baja de gestor",
    "gestor_unassigned": "desasignación de gestor",
    "incident": "incidente de seguridad",
    "max_age": "antigüedad máxima",
    "handover": "entrega-recepción",
    "manual": "manual",
}

PLATFORMS = {
    "facebook": "Facebook",
    "instagram": "Instagram",
    "x": "X",
    "tiktok": "TikTok",
    "youtube": "YouTube",
    "linkedin": "LinkedIn",
    "threads": "Threads",
    "whatsapp": "WhatsApp",
    "telegram": "Telegram",
    "bluesky": "Bluesky",
    "mastodon": "Mastodon",
    "other": "Otra",
}

KINDS = {"oficial": "oficial", "personal": "personal de servidor público"}


def reason_label(reason: str | None) -> str:
    if reason is None:
        return "—"
    return REASONS.get(reason, reason)


def platform_label(platform: str) -> str:
    return PLATFORMS.get(platform, platform)


def kind_label(kind: str) -> str:
    return KINDS.get(kind, kind)


def yes_no(value: bool) -> str:
    return "Sí" if value else "No"


def fmt_datetime(value: datetime | None) -> str:
    """``14/03/2025 10:30:00 UTC-06:00``: day first, with the offset always stated."""
    if value is None:
        return "—"
    offset = value.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else ""
    return f"{value:%d/%m/%Y %H:%M:%S} UTC{offset}"


def fmt_date(value: date | None) -> str:
    return "—" if value is None else f"{value:%d/%m/%Y}"


def gestor_label(g: Gestor) -> str:
    """Name and capacity as Décima segunda words it, alike in the directorio and every acta."""
    if g.kind == "servidor_publico":
        capacity, detail = "servidor público", g.cargo
    else:
        capacity, detail = "prestador de servicios externo", g.provider
    # A colon, not a comma: firm names carry their own ("Contenidos del Bajío, S.A.").
    return f"{g.name} ({capacity}: {detail})" if detail else f"{g.name} ({capacity})"


def obligation_line(o: Obligation, at: datetime) -> str:
    state = "VENCIDA" if o.overdue_at(at) else "abierta"
    return f"{reason_label(o.reason)}: vence {fmt_datetime(o.due_at)} ({state})"


def obligations_table(obligations: tuple[Obligation, ...], at: datetime) -> Table:
    """Open and overdue obligations, judged against ``at``."""
    rows = tuple(
        (
            f"{platform_label(o.platform)}\n{o.handle}",
            reason_label(o.reason),
            fmt_datetime(o.triggered_at),
            fmt_datetime(o.due_at),
            "VENCIDA" if o.overdue_at(at) else "abierta",
            o.id,
        )
        for o in sorted(obligations, key=lambda o: (o.due_at, o.id))
    )
    return Table(
        ("Cuenta", "Motivo", "Generada", "Vence", "Estado", "Folio"),
        rows,
        (22, 18, 20, 20, 10, 16),
    )
