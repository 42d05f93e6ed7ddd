"""The one CSV writer every export uses: RFC 4180 rows whose cells never run as formulas.

A spreadsheet treats a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return as a formula (OWASP, "CSV Injection"). Such a cell is written with
a leading apostrophe, which spreadsheets show as text and never evaluate; the
rest of the value is kept as it was.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Protocol

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class _Text(Protocol):
    def write(self, s: str, /) -> int: ...


def neutralised(value: object) -> object:
    """The cell as a spreadsheet may show it: text that could start a formula gets a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class SafeCsvWriter:
    """``csv.writer`` with CRLF line ends and every cell passed through :func:`neutralised`."""

    def __init__(self, out: _Text) -> None:
        self._writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 line ends

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([neutralised(cell) for cell in row])
