"""Swagger UI at /schema, served from the service's own copy: no CDN, no inline script.

The copy is swagger-ui-dist, unmodified, in ``static/swagger-ui`` (its README
names the version and the files' SHA-256). Same-origin assets need no
Subresource Integrity, and the page's CSP (service.http.security_headers)
allows scripts from this origin only.
"""

from __future__ import annotations

from functools import cache
from html import escape
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.params import FromPath

SWAGGER_UI_VERSION = "5.35.0"
ASSETS_DIR = Path(__file__).resolve().parent / "static" / "swagger-ui"
ASSETS_PATH = "swagger-ui"  # under the OpenAPI router's path (/schema)
# Served by name only: nothing else in the folder (or outside it) can be asked for.
MEDIA_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "custodia-init.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "LICENSE": "text/plain; charset=utf-8",
    "NOTICE": "text/plain; charset=utf-8",
    "swagger-ui-bundle.js.LICENSE.txt": "text/plain; charset=utf-8",
}
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-spec-url="{spec}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/custodia-init.js"></script>
</body>
</html>
"""


class SelfHostedSwaggerUI(OpenAPIRenderPlugin):
    """The Swagger UI page and its assets, both under the OpenAPI router."""

    def __init__(self, path: str = "/") -> None:
        super().__init__(path=path, favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        spec = self.get_openapi_json_route(request)
        page = _PAGE.format(
            title=escape(str(openapi_schema["info"]["title"])),
            assets=escape(f"{spec.rsplit('/', 1)[0]}/{ASSETS_PATH}"),
            spec=escape(spec),
        )
        return page.encode()

    def receive_router(self, router: Router) -> None:
        # Litestar's Swagger plugin also adds an OAuth2 redirect page (an inline
        # script); tokens here are bearer tokens, so it is left out.
        router.register(serve_asset)


@get(f"/{ASSETS_PATH}/{{name:str}}", include_in_schema=False, sync_to_thread=False)
def serve_asset(name: FromPath[str]) -> Response[bytes]:
    """One file of the Swagger UI copy, or 404."""
    media_type = MEDIA_TYPES.get(name)
    if media_type is None:
        return Response(b"", status_code=404, media_type="text/plain; charset=utf-8")
    return Response(
        asset(name), media_type=media_type, headers={"Cache-Control": "public, max-age=3600"}
    )


@cache
def asset(name: str) -> bytes:
    """The file's bytes, read once (about 2 MB in all)."""
    return (ASSETS_DIR / name).read_bytes()
