"""Headers every response carries: no sniffing, no framing, a strict CSP, no-store under /v1.

Set in a ``before_send`` hook, which sees every response the app sends, even
the 404 and 405 that Litestar's router answers outside the middleware stack.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

# The API answers JSON, CSV and PDF: no page of it may load, run or frame anything.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
# The Swagger UI page (service.http.schema_ui): its scripts and stylesheet come from
# the service itself; Swagger UI applies inline styles (swagger-ui issue 10655), its
# stylesheet draws icons from data: URIs, and it fetches the schema and the "try it
# out" calls from this origin.
UI_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
UI_PAGE = "/schema"  # OpenAPIConfig.path in service.app
# Every /v1 response may carry a token, a secret or personal data; the public
# directory is the one that is meant to be cached (it sends its own ETag).
PRIVATE_PREFIX = "/v1/"
PUBLIC_PREFIX = "/v1/public/"


def policy_for(path: str) -> str:
    """The Content-Security-Policy of the response to ``path``."""
    return UI_POLICY if path.rstrip("/") == UI_PAGE else API_POLICY


def is_private(path: str) -> bool:
    """Whether no cache, shared or private, may keep the response to ``path``."""
    return path.startswith(PRIVATE_PREFIX) and not path.startswith(PUBLIC_PREFIX)


async def add_security_headers(message: Message, scope: Scope) -> None:
    """``before_send`` hook: add the headers to a response's start message."""
    if message["type"] != "http.response.start":
        return
    path: str = scope.get("path", "")
    headers = MutableScopeHeaders.from_message(message)
    headers["X-Content-Type-Options"] = "nosniff"
    if "content-security-policy" not in headers:
        headers["Content-Security-Policy"] = policy_for(path)
    if is_private(path):
        headers["Cache-Control"] = "no-store"  # replaces whatever a handler chose
