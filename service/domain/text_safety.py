"""Text the public reads must look like what it is: no invisible, bidi or mixed-script tricks.

Mixed-script detection follows Unicode TR39 (Security Mechanisms) §5.1–5.2: a
string is accepted at the "Highly Restrictive" level, i.e. its characters share
one script (after Script_Extensions and the Han augmentation), or it mixes only
Latin with Han and Japanese kana, Han and Bopomofo, or Han and Hangul. Script
data comes from fontTools, which ships the current Unicode Scripts.txt and
ScriptExtensions.txt; Python's own unicodedata has no script property.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from fontTools import unicodedata as ucd  # type: ignore[import-untyped]

from service.errors import InvalidInput

Rule = Literal["bidi_control", "invisible", "control", "unassigned", "mixed_script"]

# Explicit bidirectional formatting characters (UAX #9 §2): they reorder what follows.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f" + "".join(map(chr, range(0x202A, 0x202F))) + "\u2066\u2067\u2068\u2069"
)
# Default_Ignorable_Code_Point (DerivedCoreProperties.txt) that are not Cf: rendered as
# nothing. Plus U+2800 BRAILLE PATTERN BLANK, which renders as a blank and is used to
# fake empty names.
_IGNORABLE_RANGES = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
# Line breaks a form may carry (an existing test keeps tab, CR and LF in display names).
_ALLOWED_CONTROLS = frozenset("\t\n\r")
# TR39 §5.1: these scripts are augmented so that CJK text counts as one script.
_AUGMENT = {
    "Hani": {"Hanb", "Jpan", "Kore"},
    "Hira": {"Jpan"},
    "Kana": {"Jpan"},
    "Hang": {"Kore"},
    "Bopo": {"Hanb"},
}
# TR39 §5.2 "Highly Restrictive": Latin may mix with these (not with Cyrillic or Greek).
_HIGHLY_RESTRICTIVE = (
    frozenset({"Latn", "Hani", "Hira", "Kana"}),
    frozenset({"Latn", "Hani", "Bopo"}),
    frozenset({"Latn", "Hani", "Hang"}),
)
_ANY_SCRIPT = frozenset({"Zyyy", "Zinh"})  # Common and Inherited go with every script

_EXPLAINED: dict[Rule, str] = {
    "bidi_control": "a bidirectional control character, which reorders the text around it",
    "invisible": "an invisible character",
    "control": "a control character",
    "unassigned": "an unassigned or private-use code point",
    "mixed_script": "",
}


@dataclass(frozen=True, slots=True)
class UnsafeCharacter:
    """The first character that makes a text unsafe to show, and why."""

    index: int
    char: str
    rule: Rule
    why: str

    @property
    def code_point(self) -> str:
        return f"U+{ord(self.char):04X}"

    @property
    def name(self) -> str:
        return unicodedata.name(self.char, "unnamed")


def character_rule(char: str) -> Rule | None:
    """Why ``char`` alone may not appear in shown text, or None."""
    if char in BIDI_CONTROLS:
        return "bidi_control"
    category = unicodedata.category(char)
    if category == "Cc":
        return None if char in _ALLOWED_CONTROLS else "control"
    if category in ("Cf", "Zl", "Zp") or _ignorable(ord(char)):
        return "invisible"
    if category in ("Cn", "Co", "Cs"):
        return "unassigned"
    return None


def _ignorable(code: int) -> bool:
    return any(low <= code <= high for low, high in _IGNORABLE_RANGES)


def scripts_of(char: str) -> frozenset[str]:
    """The character's Script_Extensions, augmented as TR39 §5.1 says; empty for Common."""
    scripts = set(ucd.script_extension(char))
    if scripts <= _ANY_SCRIPT:
        return frozenset()
    for script in list(scripts):
        scripts |= _AUGMENT.get(script, set())
    return frozenset(scripts)


def resolved_scripts(text: str) -> frozenset[str] | None:
    """TR39's resolved script set; None means "every script" (only Common characters)."""
    resolved: frozenset[str] | None = None
    for char in text:
        scripts = scripts_of(char)
        if scripts:
            resolved = scripts if resolved is None else resolved & scripts
    return resolved


def highly_restrictive(text: str) -> bool:
    """True when TR39 §5.2 "Highly Restrictive" admits the mix of scripts in ``text``."""
    if resolved_scripts(text) != frozenset():
        return True
    specific = [scripts_of(c) for c in text if scripts_of(c)]
    return any(all(s & allowed for s in specific) for allowed in _HIGHLY_RESTRICTIVE)


def _odd_one_out(text: str) -> UnsafeCharacter:
    """In a mixed-script text, the first character outside its most used script."""
    counts: Counter[str] = Counter()
    for char in text:
        counts.update(s for s in ucd.script_extension(char) if s not in _ANY_SCRIPT)
    first_seen = {s: i for i, c in reversed(list(enumerate(text))) for s in scripts_of(c)}
    main = max(counts, key=lambda s: (counts[s], -first_seen.get(s, len(text))))
    for index, char in enumerate(text):
        scripts = scripts_of(char)
        if scripts and main not in scripts:
            own = _script_names(ucd.script_extension(char))
            why = f"{own} in {ucd.script_name(main)} text; mixing scripts lets look-alikes pass"
            return UnsafeCharacter(index, char, "mixed_script", why)
    raise AssertionError("a mixed-script text has a character outside its main script")


def _script_names(scripts: Iterable[str]) -> str:
    return "/".join(sorted(ucd.script_name(s, s) for s in scripts))


def find_unsafe(text: str) -> UnsafeCharacter | None:
    """The first invisible, bidi, control or unassigned character, else a script mix."""
    for index, char in enumerate(text):
        rule = character_rule(char)
        if rule is not None:
            return UnsafeCharacter(index, char, rule, _EXPLAINED[rule])
    if highly_restrictive(text):
        return None
    return _odd_one_out(text)


def unsafe_error(field: str, found: UnsafeCharacter) -> InvalidInput:
    """The 422 that names the character, its code point and its index in ``field``."""
    return InvalidInput(
        f"{field} has {found.code_point} {found.name} at index {found.index}: {found.why}; "
        "invisible, bidirectional-control and mixed-script characters are not allowed",
        field=field,
        rule=found.rule,
        character=found.code_point,
        character_name=found.name,
        index=found.index,
    )


def check_text(field: str, value: str | None) -> None:
    """Raise InvalidInput naming the first unsafe character of ``value``, if any."""
    if value is None:
        return
    found = find_unsafe(value)
    if found is not None:
        raise unsafe_error(field, found)
