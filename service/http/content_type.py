"""Refuse request bodies that are not JSON with 415, before any parsing."""

from __future__ import annotations

import json
from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send

from service.http.problems import PROBLEM_JSON

BODY_METHODS = {"POST", "PUT", "PATCH"}


def require_json_bodies(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: a body must be sent as application/json (or a +json type)."""

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        raw: dict[str, Any] = dict(scope)
        if raw["type"] == "http" and raw["method"] in BODY_METHODS:
            headers = dict(raw.get("headers", []))
            has_body = headers.get(b"content-length", b"0") not in (b"0", b"") or (
                b"transfer-encoding" in headers
            )
            media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if has_body and not (media == b"application/json" or media.endswith(b"+json")):
                await _unsupported(send, media.decode("latin-1") or "none")
                return
        await app(scope, receive, send)

    return handle


async def _unsupported(send: Send, media: str) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Unsupported media type",
            "status": 415,
            "detail": f"Send the body as application/json, not {media[:60]}",
        }
    ).encode()
    start: Any = {
        "type": "http.response.start",
        "status": 415,
        "headers": [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    await send(start)
    end: Any = {"type": "http.response.body", "body": body}
    await send(end)
