"""Reading a rendered PDF as a person reading the printed document would."""

from __future__ import annotations

import io

from pypdf import PdfReader


def pdf_text(data: bytes) -> str:
    """Text of every page, as a reader of the printed document sees it."""
    assert data.startswith(b"%PDF-")
    return "\n".join(pdf_pages(data))


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def squash(text: str) -> str:
    """Whitespace removed and lowercased: PDF cells wrap lines anywhere, even inside words."""
    return "".join(text.split()).lower()
