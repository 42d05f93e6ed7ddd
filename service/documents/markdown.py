"""Markdown renderer for a layout :class:`Document`; same words as the PDF."""

from __future__ import annotations

import re

from service.documents.layout import (
    Bullets,
    Document,
    Fields,
    Heading,
    Paragraph,
)

# Handles like @sec_salud or *aliases* must not turn into emphasis or links.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def escape(text: str) -> str:
    """Escape Markdown punctuation so data is shown literally."""
    return _SPECIAL.sub(r"\\\1", text)


def _cell(text: str) -> str:
    return "<br>".join(escape(line) for line in text.split("\n"))


def _table(header: tuple[str, ...], rows: tuple[tuple[str, ...], ...]) -> list[str]:
    out = ["| " + " | ".join(_cell(h) for h in header) + " |"]
    out.append("|" + "|".join("---" for _ in header) + "|")
    out.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return [*out, ""]


def render_markdown(doc: Document) -> str:
    """Render ``doc`` as CommonMark with pipe tables (GitHub flavour)."""
    out = [f"# {escape(doc.title)}", ""]
    for block in doc.blocks:
        if isinstance(block, Heading):
            out += [f"{'#' * (block.level + 1)} {escape(block.text)}", ""]
        elif isinstance(block, Paragraph):
            text = escape(block.text)
            out += [f"**{text}**" if block.bold else text, ""]
        elif isinstance(block, Bullets):
            marks = (f"{i}." if block.ordered else "-" for i in range(1, len(block.items) + 1))
            out += [f"{m} {escape(item)}" for m, item in zip(marks, block.items, strict=True)]
            out.append("")
        elif isinstance(block, Fields):
            out += [f"- **{escape(k)}:** {escape(v)}" for k, v in block.pairs]
            out.append("")
        else:
            out += _table(block.header, block.rows)
    if doc.signatures:
        out += ["## Firmas", "", "Firman al calce de cada hoja impresa:", ""]
        rows = tuple((s.role, s.name, s.cargo, "") for s in doc.signatures)
        out += _table(("Carácter", "Nombre", "Cargo", "Firma"), rows)
    return "\n".join(out).rstrip("\n") + "\n"
