"""The README documents every setting and the two commands."""

from __future__ import annotations

from dataclasses import fields

import pytest

from service.settings import Settings
from tests.support.apps import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [f"CUSTODIA_{f.name.upper()}" for f in fields(Settings)])
def test_every_setting_is_documented(name: str) -> None:
    assert f"`{name}`" in README


def test_two_commands_come_first() -> None:
    first_section = README.split("\n## ")[1]
    assert "make run" in first_section
    assert "make test" in first_section
