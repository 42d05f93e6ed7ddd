"""Refuse NUL characters in request text before any handler sees it.

PostgreSQL cannot store U+0000 in text (SQLite can), so without this the same
request would be stored on one database and fail on the other.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request

from service.errors import BadQuery, InvalidInput

BODY_METHODS = {"POST", "PUT", "PATCH"}
# A JSON \u0000 escape: an odd run of backslashes before "u0000" (an even run is literal text).
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


async def refuse_nul_characters(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook: 400 for a NUL in the path or query, 422 in the body."""
    if "\x00" in request.url.path or b"%00" in request.scope.get("query_string", b""):
        raise BadQuery("The URL contains a NUL character (%00), which no field may hold")
    if request.method in BODY_METHODS and _NUL_ESCAPE.search(await request.body()):
        raise InvalidInput("Text must not contain NUL characters (\\u0000)")
