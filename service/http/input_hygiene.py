"""Refuse what no handler should see: control characters, deep JSON and repeated keys.

PostgreSQL cannot store U+0000 in text (SQLite can), so without the first the
same request would be stored on one database and fail on the other; other
control characters have no place in names, handles or passwords and end up in
the public directory's CSV and in PDFs. Tab, line feed and carriage return stay
(notes). The JSON decoder recurses, so a few kilobytes of brackets would end in
a RecursionError. A key given twice in one object is ambiguous: the decoder
would keep the last one silently (``{"role": "auditor", "role": "admin"}``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException

from service.errors import BadQuery, DomainError, InvalidInput

BODY_METHODS = {"POST", "PUT", "PATCH"}
# A JSON escape of a control character other than tab, LF and CR: an odd run of
# backslashes before it (an even run is literal text). JSON forbids raw C0
# characters in strings; DEL and the C1 range may come raw, as UTF-8.
_CONTROL = re.compile(
    rb"(?<!\\)(?:\\\\)*\\(?:[bf]|u00(?:0[0-8bcef]|1[0-9a-f]|7f|[89][0-9a-f]))"
    rb"|\x7f|\xc2[\x80-\x9f]",
    re.IGNORECASE,
)
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(rb"[\[\]{}]")
# Custodia's bodies nest a few levels; anything near this is not a request of ours.
MAX_JSON_DEPTH = 32
# A key is quoted in the refusal; a hostile one is cut to this.
_KEY_SHOWN = 64


async def check_request_input(request: Request[Any, Any, Any]) -> None:
    """``before_request``: NUL in the URL 400; control characters 422; deep or mistyped JSON 400."""
    if "\x00" in request.url.path or b"%00" in request.scope.get("query_string", b""):
        raise BadQuery("The URL contains a NUL character (%00), which no field may hold")
    if request.method not in BODY_METHODS:
        return
    body = await request.body()
    if _CONTROL.search(body):
        raise InvalidInput(
            "Text must not contain NUL or other control characters "
            "(tab, line feed and carriage return are allowed)"
        )
    if json_depth(body) > MAX_JSON_DEPTH:
        raise DomainError(f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels")  # 400
    refuse_repeated_keys(body)
    expect_strict_types(request, body)


class _RepeatedKey(Exception):
    """Raised out of the decoder's hook: not a ValueError, so no decoding error hides it."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _RepeatedKey(key)
        seen[key] = value
    return seen


def refuse_repeated_keys(body: bytes) -> None:
    """400 when any object of the body, at any depth, names one key twice."""
    if not body.strip():
        return
    try:
        json.loads(body, object_pairs_hook=_unique_pairs)
    except _RepeatedKey as repeated:
        key = repeated.key if len(repeated.key) <= _KEY_SHOWN else repeated.key[:_KEY_SHOWN] + "…"
        raise DomainError(
            f"The JSON body gives the key {json.dumps(key, ensure_ascii=False)} twice "
            "in one object; send each key once",
            key=key,
        ) from None
    except ValueError:
        return  # malformed JSON (or not UTF-8): Litestar's own decoding answers it


def expect_strict_types(request: Request[Any, Any, Any], body: bytes) -> None:
    """A JSON body must have the types its schema states: no "5" for 5, no 0 for a date.

    Litestar converts bodies leniently (msgspec's lax mode), which would take a
    Unix number for a date-time; the same schema is checked strictly here first.
    """
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    if data is None or not body.strip():
        return
    try:
        msgspec.json.decode(body, type=data.annotation, strict=True)
    except msgspec.ValidationError as exc:
        extra = [{"message": str(exc), "key": "data", "source": "body"}]
        detail = "The request body did not pass validation"
        raise ValidationException(detail=detail, extra=extra) from None
    except msgspec.DecodeError:
        return  # malformed JSON: Litestar's own decoding answers it


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects, strings aside (cheap when shallow)."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return 0
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub(b"", body)):
        depth += 1 if bracket in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest
