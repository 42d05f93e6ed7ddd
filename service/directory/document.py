"""Directorio de redes sociales digitales (Octava–Décima segunda): CSV and JSON.

CSV starts with a UTF-8 byte-order mark: without it Excel, the spreadsheet most
transparency offices use, reads the file as ANSI and mangles "Área" and "Sí".
LibreOffice and Python's ``utf-8-sig`` read the BOM transparently.

JSON shape: a list of objects ``{sujeto_obligado, area, platform, kind,
account_name, url, verified, updated_at}`` (``updated_at`` as ``YYYY-MM-DD``) and,
only when gestores are shown (``CUSTODIA_DIRECTORY_SHOW_GESTORES``), ``gestores``:
``[{name, kind, cargo, provider}]``. No email, phone, token or Vault data exists
in a :class:`DirectoryRow`, so none can be exported.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any

from service.documents.content import DirectoryRow
from service.documents.csv_writer import SafeCsvWriter
from service.documents.layout import gestor_label, kind_label, platform_label, yes_no

BOM = "\ufeff"
HEADER = (
    "Sujeto obligado",
    "Área",
    "Plataforma",
    "Tipo de cuenta",
    "Nombre de la cuenta",
    "URL",
    "Verificada",
    "Fecha de actualización",
)
GESTORES_HEADER = "Gestores con acceso a la contraseña"
CHUNK_ROWS = 2000


def _csv_row(r: DirectoryRow, show_gestores: bool) -> list[str]:
    row = [
        r.sujeto_obligado,
        r.area,
        platform_label(r.platform),
        kind_label(r.kind),
        r.account_name,
        r.url,
        yes_no(r.verified),
        r.updated_at.isoformat(),
    ]
    if show_gestores:
        row.append("; ".join(gestor_label(g) for g in r.gestores))
    return row


def iter_directory_csv(
    rows: Iterable[DirectoryRow], *, show_gestores: bool = False
) -> Iterator[str]:
    """Yield the CSV in chunks (BOM and header first) for a streaming response."""
    buf = io.StringIO()
    writer = SafeCsvWriter(buf)
    buf.write(BOM)
    writer.writerow([*HEADER, GESTORES_HEADER] if show_gestores else HEADER)
    pending = 0
    for r in rows:
        writer.writerow(_csv_row(r, show_gestores))
        pending += 1
        if pending == CHUNK_ROWS:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
            pending = 0
    yield buf.getvalue()


def directory_csv(rows: Iterable[DirectoryRow], *, show_gestores: bool = False) -> bytes:
    """The whole CSV as UTF-8 bytes with a BOM."""
    return "".join(iter_directory_csv(rows, show_gestores=show_gestores)).encode()


def directory_to_json(
    rows: Iterable[DirectoryRow], *, show_gestores: bool = False
) -> list[dict[str, Any]]:
    """The JSON form; see the module docstring for its shape."""
    out: list[dict[str, Any]] = []
    for r in rows:
        item: dict[str, Any] = {
            "sujeto_obligado": r.sujeto_obligado,
            "area": r.area,
            "platform": r.platform,
            "kind": r.kind,
            "account_name": r.account_name,
            "url": r.url,
            "verified": r.verified,
            "updated_at": r.updated_at.isoformat(),
        }
        if show_gestores:
            item["gestores"] = [
                {"name": g.name, "kind": g.kind, "cargo": g.cargo, "provider": g.provider}
                for g in r.gestores
            ]
        out.append(item)
    return out
