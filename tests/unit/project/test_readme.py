"""The README documents every setting and the two commands."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from service.settings import Settings

README = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [f"CUSTODIA_{f.name.upper()}" for f in fields(Settings)])
def test_every_setting_is_documented(name: str) -> None:
    assert f"`{name}`" in README


def test_two_commands_come_first() -> None:
    first_section = README.split("\n## ")[1]
    assert "make run" in first_section
    assert "make test" in first_section
