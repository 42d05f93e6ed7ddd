"""Refuse what no handler should see: control characters, and JSON nested absurdly deep.

PostgreSQL cannot store U+0000 in text (SQLite can), so without the first the
same request would be stored on one database and fail on the other; other
control characters have no place in names, handles or passwords and end up in
the public directory's CSV and in PDFs. Tab, line feed and carriage return stay
(notes). The JSON decoder recurses, so a few kilobytes of brackets would end in
a RecursionError.
"""

from __future__ import annotations

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
    expect_strict_types(request, body)


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
