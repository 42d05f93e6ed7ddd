"""Build the public directory in two queries (accounts, gestores grouped) and hash it.

The ETag is the SHA-256 of the exact bytes served, so the whole body is built
before the first byte is sent; the CSV is then streamed in chunks. 100,000
accounts are about 15 MB: held once per request, not per row object.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from service.directory.document import directory_to_json, iter_directory_csv
from service.directory.repository import DirectoryRepository
from service.documents.content import DirectoryRow, Gestor
from service.documents.formats import MEDIA_TYPES, Format, json_bytes
from service.domain.accounts import term_ended
from service.runtime import Runtime


@dataclass(frozen=True)
class Directory:
    """The served body, in chunks, with its strong ETag."""

    chunks: list[bytes]
    media_type: str
    filename: str
    sha256: str

    @property
    def etag(self) -> str:
        return f'"{self.sha256}"'

    def body(self) -> bytes:
        return b"".join(self.chunks)


async def directory_rows(rt: Runtime) -> list[DirectoryRow]:
    """Public rows only: retired, unlisted and out-of-rank personal accounts never appear."""
    show = rt.settings.directory_show_gestores
    sujeto = rt.settings.sujeto_obligado
    now = rt.clock.now()
    async with rt.reader() as r:
        repo = DirectoryRepository(r)
        accounts = await repo.listed_accounts()
        grouped = await repo.gestores() if show else {}
    gestores = {
        account_id: tuple(
            Gestor(name, "externo" if kind == "externo" else "servidor_publico", c, p)
            for name, kind, c, p in people
        )
        for account_id, people in grouped.items()
    }
    none: tuple[Gestor, ...] = ()
    rows: list[DirectoryRow] = []
    append = rows.append
    for a in accounts:
        personal = a.kind == "personal"
        # Quinta: the listing rests on the cargo; SQL filtered consent and rank already.
        if personal and term_ended(a.term_ends_on, now):
            continue
        # updated_at is aware UTC on every dialect: its date is the UTC date.
        append(
            DirectoryRow(
                sujeto, a.area, a.platform, "personal" if personal else "oficial",
                a.handle, a.url, a.verified, a.updated_at.date(), gestores.get(a.id, none),
            )
        )  # fmt: skip
    return rows


def _encoded(parts: Iterator[str]) -> tuple[list[bytes], str]:
    digest = hashlib.sha256()
    chunks = []
    for part in parts:
        chunk = part.encode()
        digest.update(chunk)
        chunks.append(chunk)
    return chunks, digest.hexdigest()


async def build_directory(rt: Runtime, fmt: Format) -> Directory:
    """The directory as CSV (UTF-8 with BOM, header row) or JSON."""
    rows = await directory_rows(rt)
    show = rt.settings.directory_show_gestores
    if fmt == "csv":
        chunks, digest = _encoded(iter_directory_csv(rows, show_gestores=show))
    else:
        body = json_bytes(directory_to_json(rows, show_gestores=show))
        chunks, digest = [body], hashlib.sha256(body).hexdigest()
    return Directory(chunks, MEDIA_TYPES[fmt], f"directorio-redes-sociales.{fmt}", digest)
