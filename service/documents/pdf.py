"""PDF renderer (fpdf2) for a layout :class:`Document`.

Text is wrapped here and drawn with ``FPDF.text``, not ``multi_cell``: a
1,000-row annex must render in well under two seconds on two cores.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from fpdf import FPDF
from fpdf.fonts import TTFFont

from service.documents.layout import (
    Bullets,
    Document,
    Fields,
    Heading,
    Paragraph,
    Signature,
    Table,
)

PageSize = Literal["A4", "Letter"]
FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"
FONT = "DejaVu"
PAD = 1.2  # mm inside table cells
SIG_PER_ROW = 5
SIG_ROW_H = 28.0  # mm: room to sign, the line, then two lines each of role, name, cargo
BOTTOM_LINE_H = 9.0  # mm: "Hoja X de Y"
GRAY = 235


class _Pdf(FPDF):
    def __init__(self, doc: Document, page_size: PageSize) -> None:
        super().__init__(orientation="P", unit="mm", format=page_size)
        self.doc = doc
        self.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        self.set_margins(15, 16, 15)
        self.sig_rows = math.ceil(len(doc.signatures) / SIG_PER_ROW)
        self.footer_h = self.sig_rows * SIG_ROW_H + BOTTOM_LINE_H + 3
        self.set_auto_page_break(True, margin=self.footer_h)
        self.set_title(doc.title)
        self.set_author(doc.author)
        self.set_creator("Custodia")
        self._widths: dict[tuple[str, float, str], float] = {}
        self._sig_lines: dict[tuple[str, float, str, float], list[str]] = {}
        if doc.created_at is not None:
            self.set_creation_date(doc.created_at)

    def header(self) -> None:
        if self.doc.running_head and self.page_no() > 1:
            self.set_font(FONT, "", 7)
            self.set_text_color(110)
            self.text(self.l_margin, 10, self._fit(self.doc.running_head, self.epw))
            self.set_text_color(0)

    def footer(self) -> None:
        top = self.h - self.footer_h + 3
        sigs = self.doc.signatures
        if sigs:
            per_row = math.ceil(len(sigs) / self.sig_rows)
            width = self.epw / per_row
            for i, sig in enumerate(sigs):
                row, col = divmod(i, per_row)
                self._signature(sig, self.l_margin + col * width, top + row * SIG_ROW_H, width)
        self.set_font(FONT, "", 8)
        self.set_xy(self.l_margin, self.h - 10)
        # cell(), not text(): only cell-like calls get the {nb} total substituted.
        self.cell(w=self.epw, h=4, text=f"Hoja {self.page_no()} de {{nb}}", align="C")

    def _signature(self, sig: Signature, x: float, y: float, w: float) -> None:
        inner = w - 4
        self.set_draw_color(0)
        self.line(x + 2, y + 10, x + w - 2, y + 10)
        baseline = y + 12.6
        for style, size, text, max_lines in (
            ("B", 6.5, sig.role, 2),
            ("", 7, sig.name, 2),
            ("", 6, sig.cargo, 2),
        ):
            self.set_font(FONT, style, size)
            key = (style, size, text, inner)
            if key not in self._sig_lines:  # the same boxes are drawn on every page
                lines = self._wrap(text, inner)
                if len(lines) > max_lines:  # mark the cut instead of hiding it
                    lines[max_lines - 1] = self._fit(" ".join(lines[max_lines - 1 :]), inner)
                self._sig_lines[key] = lines[:max_lines]
            for line in self._sig_lines[key]:
                self.text(x + 2, baseline, line)
                baseline += self.font_size * 1.2

    # Text measurement -------------------------------------------------------------

    def _width(self, text: str) -> float:
        # FPDF.get_string_width copies the graphics state on every call, which was
        # two thirds of the render time; plain glyph widths are all we need here.
        key = (self.font_family + self.font_style, self.font_size_pt, text)
        width = self._widths.get(key)
        if width is None:
            font = self.current_font
            assert isinstance(font, TTFFont)  # only the bundled DejaVu is ever set
            width = sum(font.cw[ord(c)] for c in text) * self.font_size_pt * 0.001 / self.k
            self._widths[key] = width
        return width

    def _fit(self, text: str, width: float) -> str:
        if self._width(text) <= width:
            return text
        while text and self._width(text + "…") > width:
            text = text[:-1]
        return text + "…"

    def _wrap(self, text: str, width: float) -> list[str]:
        """Greedy word wrap; words wider than a line (URLs, hashes) break anywhere."""
        out: list[str] = []
        space = self._width(" ")
        for para in text.split("\n"):
            line, line_w = "", 0.0
            for word in para.split(" "):
                ww = self._width(word)
                if line and line_w + space + ww <= width:
                    line, line_w = f"{line} {word}", line_w + space + ww
                    continue
                if line:
                    out.append(line)
                line, line_w = word, ww
                while line_w > width and len(line) > 1:
                    cut = self._cut(line, width)
                    out.append(line[:cut])
                    line = line[cut:]
                    line_w = self._width(line)
            out.append(line)
        return out

    def _cut(self, word: str, width: float) -> int:
        total = 0.0
        for i, ch in enumerate(word):
            total += self._width(ch)
            if total > width:
                return max(i, 1)
        return len(word)

    # Blocks -----------------------------------------------------------------------

    def _room(self, height: float) -> None:
        if self.y + height > self.page_break_trigger:
            self.add_page()

    def _lines(self, text: str, x: float, width: float, style: str, size: float) -> None:
        self.set_font(FONT, style, size)
        lh = self.font_size * 1.35
        for line in self._wrap(text, width):
            self._room(lh)
            self.set_font(FONT, style, size)  # a new page may have left another font set
            self.text(x, self.y + self.font_size, line)
            self.y += lh

    def title_block(self) -> None:
        self._lines(self.doc.title, self.l_margin, self.epw, "B", 14)
        self.y += 3

    def heading(self, h: Heading) -> None:
        self.y += 4 if h.level == 1 else 2
        self._room(22)  # keep a heading with the start of what follows it
        self._lines(h.text, self.l_margin, self.epw, "B", 11 if h.level == 1 else 9.5)
        self.y += 1

    def paragraph(self, p: Paragraph) -> None:
        self._lines(p.text, self.l_margin, self.epw, "B" if p.bold else "", 9)
        self.y += 1.5

    def bullets(self, b: Bullets) -> None:
        indent = 6.0
        for i, item in enumerate(b.items, 1):
            self._room(5)
            self.set_font(FONT, "", 9)
            self.text(self.l_margin + 1, self.y + self.font_size, f"{i}." if b.ordered else "•")
            self._lines(item, self.l_margin + indent, self.epw - indent, "", 9)
            self.y += 0.8
        self.y += 1

    def fields(self, f: Fields) -> None:
        widths = (45.0, self.epw - 45.0)
        for label, value in f.pairs:
            self._row((label, value), widths, ("B", ""), border=False)
        self.y += 1.5

    def data_table(self, t: Table) -> None:
        total = sum(t.widths)
        widths = tuple(self.epw * w / total for w in t.widths)
        bold = tuple("B" for _ in t.header)
        plain = tuple("" for _ in t.header)
        # Never leave the column titles alone at the foot of a page.
        first = t.rows[0] if t.rows else t.header
        self._room(min(self._height(t.header, widths) + self._height(first, widths), 60))
        self._row(t.header, widths, bold, fill=True)
        for row in t.rows:
            self._row(row, widths, plain, header=(t.header, widths))
        self.y += 2

    def _height(self, cells: tuple[str, ...], widths: tuple[float, ...]) -> float:
        self.set_font(FONT, "B", 7.5)
        tall = max(len(self._wrap(c, w - 2 * PAD)) for c, w in zip(cells, widths, strict=True))
        return tall * self.font_size * 1.3 + 2 * PAD

    def _row(
        self,
        cells: tuple[str, ...],
        widths: tuple[float, ...],
        styles: tuple[str, ...],
        *,
        border: bool = True,
        fill: bool = False,
        header: tuple[tuple[str, ...], tuple[float, ...]] | None = None,
    ) -> None:
        lines = []
        for text, w, style in zip(cells, widths, styles, strict=True):
            self.set_font(FONT, style, 7.5)
            lines.append(self._wrap(text, w - 2 * PAD))
        lh = self.font_size * 1.3
        while lines:
            tall = max(len(c) for c in lines)
            fit = int((self.page_break_trigger - self.y - 2 * PAD) // lh)
            # A row that fits on a page is never split; a taller one is, with no slivers.
            page = int((self.page_break_trigger - self.t_margin - 12 - 2 * PAD) // lh)
            if tall > fit and (tall <= page or fit < 3):
                self._new_table_page(header)
                continue
            take = min(tall, fit)
            chunk = [c[:take] for c in lines]
            self._draw_row(chunk, widths, styles, take * lh + 2 * PAD, lh, border, fill)
            lines = [c[take:] for c in lines] if take < tall else []
            if lines:  # a row taller than the page continues on the next one
                self._new_table_page(header)

    def _new_table_page(self, header: tuple[tuple[str, ...], tuple[float, ...]] | None) -> None:
        self.add_page()
        if header is not None:  # repeat the column titles on every page of the table
            self._row(header[0], header[1], tuple("B" for _ in header[0]), fill=True)

    def _draw_row(
        self,
        lines: list[list[str]],
        widths: tuple[float, ...],
        styles: tuple[str, ...],
        height: float,
        lh: float,
        border: bool,
        fill: bool,
    ) -> None:
        x, y = self.l_margin, self.y
        self.set_fill_color(GRAY)
        for cell, w, style in zip(lines, widths, styles, strict=True):
            if border:
                self.rect(x, y, w, height, style="DF" if fill else "D")
            self.set_font(FONT, style, 7.5)
            for i, line in enumerate(cell):
                self.text(x + PAD, y + PAD + i * lh + self.font_size, line)
            x += w
        self.y = y + (height if border else height - PAD)


def render_pdf(doc: Document, *, page_size: PageSize = "A4") -> bytes:
    """Render ``doc`` to PDF bytes, on A4 or Letter, with "Hoja X de Y" on every page."""
    pdf = _Pdf(doc, page_size)
    pdf.add_page()
    pdf.title_block()
    for block in doc.blocks:
        if isinstance(block, Heading):
            pdf.heading(block)
        elif isinstance(block, Paragraph):
            pdf.paragraph(block)
        elif isinstance(block, Bullets):
            pdf.bullets(block)
        elif isinstance(block, Fields):
            pdf.fields(block)
        else:
            pdf.data_table(block)
    return bytes(pdf.output())
