"""Output formats of the documents: parsing ``?format=``, rendering and HTTP headers."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal, cast

from service.documents.layout import Document
from service.documents.markdown import render_markdown
from service.documents.pdf import PageSize, render_pdf
from service.errors import BadQuery

Format = Literal["pdf", "md", "json", "csv"]
DOCUMENT_FORMATS: tuple[Format, ...] = ("pdf", "md", "json")
DIRECTORY_FORMATS: tuple[Format, ...] = ("json", "csv")

MEDIA_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "md": "text/markdown",  # Litestar appends "; charset=utf-8" to text/*
    "json": "application/json",
    "csv": "text/csv",
}


def parse_format(value: str | None, accepted: tuple[Format, ...]) -> Format:
    """The requested format, or 400 naming the accepted ones."""
    chosen = (value or accepted[0]).strip().lower()
    for fmt in accepted:
        if fmt == chosen:
            return fmt
    raise BadQuery(
        f"Unknown format {value!r}; accepted formats: {', '.join(accepted)}",
        field="format",
        accepted=list(accepted),
    )


def json_bytes(data: Any) -> bytes:
    """Readable UTF-8 JSON (accents kept), stable key order as built."""
    return json.dumps(data, ensure_ascii=False, indent=2).encode()


def canonical_sha256(data: Any) -> str:
    """SHA-256 of canonical JSON: sorted keys, ``,``/``:`` separators, non-ASCII kept."""
    raw = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Rendered:
    """A document's served bytes with what the HTTP layer needs to send them."""

    body: bytes
    media_type: str
    filename: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    def headers(self, **extra: str) -> dict[str, str]:
        return {
            "Content-Disposition": f'attachment; filename="{self.filename}"',
            "X-Content-SHA256": self.sha256,
            **extra,
        }


def render(
    fmt: Format, layout: Document, data: dict[str, Any], stem: str, page_size: str
) -> Rendered:
    """Render ``layout`` (PDF, Markdown) or ``data`` (JSON) as ``fmt``."""
    if fmt == "pdf":
        body = render_pdf(layout, page_size=cast(PageSize, page_size))
    elif fmt == "md":
        body = render_markdown(layout).encode()
    else:
        body = json_bytes(data)
    return Rendered(body, MEDIA_TYPES[fmt], f"{stem}.{fmt}")
