"""json_depth: nesting of arrays and objects, with strings (and their escapes) set aside."""

from __future__ import annotations

import pytest

from service.http.input_hygiene import MAX_JSON_DEPTH, json_depth

DEEP = MAX_JSON_DEPTH + 1


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"{}", 0),  # shallow bodies are not scanned at all
        (b"[" * DEEP + b"]" * DEEP, DEEP),
        (b"[" * DEEP + b"]" * DEEP + b"[[]]", DEEP),
        (b'{"a":' * DEEP + b"1" + b"}" * DEEP, DEEP),
        (b'["' + b"[" * 100 + b'"]', 1),
        (b'["\\"' + b"[" * 100 + b'"]', 1),  # an escaped quote does not end the string
        (b"[" * 10 + b'"\\\\"' + b"[" * 30 + b"]" * 40, 40),  # an escaped backslash does
    ],
)
def test_json_depth(body: bytes, depth: int) -> None:
    assert json_depth(body) == depth
