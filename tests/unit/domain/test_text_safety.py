"""Shown text: invisible, bidi-control and mixed-script characters are named; Spanish passes."""

from __future__ import annotations

import pytest

from service.domain.text_safety import check_text, find_unsafe, highly_restrictive, scripts_of
from service.errors import InvalidInput


@pytest.mark.parametrize(
    "text",
    [
        "José Ñúñez",
        "María José Peña Núñez",
        "Pingüino de Güémez",
        "¿Dónde está el área? ¡Aquí!",
        "Jose\u0301 Ñun\u0303ez",  # decomposed accents (NFD) are still Latin
        "Comunicación Social — Ayuntamiento de Santa María del Río",
        "Estrategia Digital Ñandú, S.C.",
        "Oficina 3-B (2º piso), 50 % de avance, 1.º de mayo",
        "Cuenta\tcon\r\nsaltos",
        "Tokio 東京とうきょう",  # TR39 Highly Restrictive: Latin with Japanese
        "Москва",  # one script, even if not Latin
        "Nahuatl: tlahtoāni, sa\ua78ca",  # macron and saltillo are Latin
        "",
    ],
)
def test_ordinary_text_passes(text: str) -> None:
    assert find_unsafe(text) is None
    check_text("name", text)


@pytest.mark.parametrize(
    ("text", "index", "code", "rule"),
    [
        ("demo_pc_\u200balertas", 8, "U+200B", "invisible"),
        ("Gobierno\u200d", 8, "U+200D", "invisible"),
        ("\ufeffGobierno", 0, "U+FEFF", "invisible"),
        ("Secre\u00adtaría", 5, "U+00AD", "invisible"),
        ("A\u2800B", 1, "U+2800", "invisible"),
        ("Hangul\u3164filler", 6, "U+3164", "invisible"),
        ("Área\u2028Social", 4, "U+2028", "invisible"),
        ("Emoji\ufe0f", 5, "U+FE0F", "invisible"),
        ("\U000e0041tag", 0, "U+E0041", "invisible"),
        ("\u202edemo_pc_alertas", 0, "U+202E", "bidi_control"),
        ("abc\u202a", 3, "U+202A", "bidi_control"),
        ("abc\u2066x\u2069", 3, "U+2066", "bidi_control"),
        ("x\u200fy", 1, "U+200F", "bidi_control"),
        ("x\u061cy", 1, "U+061C", "bidi_control"),
        ("bell\x07", 4, "U+0007", "control"),
        ("private\ue000", 7, "U+E000", "unassigned"),
        ("unassigned\u0378", 10, "U+0378", "unassigned"),
        ("demo_pc_\u0430lertas", 8, "U+0430", "mixed_script"),
        ("\u0430lertas", 0, "U+0430", "mixed_script"),  # the odd one out, even when first
        ("Gobierno de México\u043e", 18, "U+043E", "mixed_script"),
        ("Paypal \u0440ay", 7, "U+0440", "mixed_script"),
        ("Área Ω", 5, "U+03A9", "mixed_script"),
        ("\u0660 Área", 0, "U+0660", "mixed_script"),
        ("Москва Moscow", 7, "U+004D", "mixed_script"),  # the minority script is named
    ],
)
def test_the_first_unsafe_character_is_named_with_its_index(
    text: str, index: int, code: str, rule: str
) -> None:
    found = find_unsafe(text)
    assert found is not None
    assert (found.index, found.code_point, found.rule) == (index, code, rule)
    with pytest.raises(InvalidInput) as refused:
        check_text("display_name", text)
    extra = refused.value.extra
    assert (extra["field"], extra["index"], extra["character"]) == ("display_name", index, code)
    assert extra["character_name"] == found.name
    assert f"{code} {found.name} at index {index}" in refused.value.detail


def test_the_message_names_the_character_and_the_scripts() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_text("handle", "demo_pc_\u0430lertas")
    detail = refused.value.detail
    assert "U+0430 CYRILLIC SMALL LETTER A at index 8" in detail
    assert "Cyrillic in Latin text" in detail


def test_none_is_nothing_to_check() -> None:
    check_text("owner_name", None)


@pytest.mark.parametrize(
    ("char", "scripts"),
    [
        ("a", {"Latn"}),
        ("1", set()),
        ("¿", set()),
        ("\u0301", {"Latn", "Grek", "Cyrl"}),  # an accent goes with the letters it marks
        ("東", {"Hani", "Hanb", "Jpan", "Kore"}),
        ("と", {"Hira", "Jpan"}),
    ],
)
def test_scripts_follow_tr39_augmentation(char: str, scripts: set[str]) -> None:
    assert scripts <= scripts_of(char)
    if not scripts:
        assert scripts_of(char) == frozenset()


@pytest.mark.parametrize(
    ("text", "admitted"),
    [
        ("Latin 東京", True),
        ("Latin 서울", True),  # covered by Latin + Han + Hangul
        ("Latin 首尔서울", True),
        ("Latin 台北ㄅ", True),
        ("Latin Ελλάδα", False),
        ("Latin Россия", False),
        ("東京 Россия", False),
    ],
)
def test_highly_restrictive_mixes(text: str, admitted: bool) -> None:
    assert highly_restrictive(text) is admitted
