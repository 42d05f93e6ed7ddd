"""HTTP: the public directory. No login: the /v1/public/ prefix skips authentication."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter
from litestar.response import Stream

from service.directory.schemas import DirectoryEntry
from service.directory.usecases import build_directory
from service.documents.formats import DIRECTORY_FORMATS, parse_format
from service.documents.schemas import document_response
from service.http.auth import Rt

CACHE = "public, max-age=300"
FormatParam = Annotated[
    str | None, QueryParameter(name="format", description="json (default) or csv", max_length=10)
]


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


class PublicDirectoryController(Controller):
    path = "/v1/public/directory"
    tags = ["directory"]
    security = [{}]

    @get(
        "/",
        summary="Directorio de redes sociales digitales (Octava–Décima segunda); no login",
        description=(
            "JSON (schema below) or CSV (text/csv, UTF-8 with BOM and a header row). "
            "Strong ETag over the served bytes; If-None-Match answers 304. "
            "Cache-Control: public, max-age=300."
        ),
        responses={
            **document_response(list[DirectoryEntry], "The public directory"),
            304: ResponseSpec(None, description="Not modified: If-None-Match matched the ETag"),
        },
    )
    async def directory(
        self,
        rt: Rt,
        request: Request[Any, Any, Any],
        fmt: FormatParam = None,
    ) -> Response[bytes] | Stream:
        chosen = parse_format(fmt, DIRECTORY_FORMATS)
        built = await build_directory(rt, chosen)
        headers = {"ETag": built.etag, "Cache-Control": CACHE, "Vary": "Accept-Encoding"}
        if _matches(request.headers.get("if-none-match"), built.etag):
            return Response(b"", status_code=304, headers=headers)
        headers["Content-Disposition"] = f'inline; filename="{built.filename}"'
        if chosen == "csv":
            return Stream(iter(built.chunks), media_type=built.media_type, headers=headers)
        return Response(built.body(), media_type=built.media_type, headers=headers)
