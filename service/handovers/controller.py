"""HTTP: entrega-recepción (Décima sexta)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from service.documents.formats import DOCUMENT_FORMATS, parse_format
from service.documents.schemas import ActaJson, document_response
from service.handovers import closing, usecases
from service.handovers.render import render_acta
from service.handovers.schemas import HandoverIn, HandoverOut, HandoverPatch
from service.http.auth import CallerDep, Rt, allow
from service.http.problems import errors

FormatParam = Annotated[
    str | None,
    QueryParameter(name="format", description="pdf (default), md or json", max_length=10),
]


class HandoverController(Controller):
    path = "/v1/handovers"
    tags = ["handovers"]

    @post(
        "/",
        summary="Record an entrega-recepción: custody moves, obligations open, annex frozen",
        guards=[allow("admin")],
        responses=errors(409, 422),
    )
    async def create(self, rt: Rt, caller: CallerDep, data: JSONBody[HandoverIn]) -> HandoverOut:
        return await usecases.create(rt, caller, data)

    @get("/", summary="List handovers, newest first", guards=[allow("admin", "auditor")])
    async def list_handovers(
        self,
        rt: Rt,
        area: Annotated[str | None, QueryParameter(name="area", max_length=200)] = None,
        limit: Annotated[int, QueryParameter(name="limit", ge=1, le=1000)] = 100,
    ) -> list[HandoverOut]:
        return await usecases.list_handovers(rt, area, limit)

    @get(
        "/{handover_id:str}",
        summary="The acta de entrega-recepción with its annex; audited",
        description=(
            "PDF (application/pdf), Markdown (text/markdown) or JSON (schema below). "
            "X-Content-SHA256 is the SHA-256 of the served bytes. A closed acta is "
            "rendered from its frozen record only: its JSON never changes."
        ),
        guards=[allow("admin", "auditor")],
        responses=document_response(ActaJson, "The acta in the format asked"),
    )
    async def acta(
        self, rt: Rt, caller: CallerDep, handover_id: FromPath[str], fmt: FormatParam = None
    ) -> Response[bytes]:
        chosen = parse_format(fmt, DOCUMENT_FORMATS)
        out = await render_acta(rt, caller, handover_id, chosen)
        return Response(
            out.body,
            media_type=out.media_type,
            headers=out.headers(**{"Cache-Control": "no-store"}),
        )

    @patch(
        "/{handover_id:str}",
        summary="Correct place, reason, witnesses or OIC representative of an open acta",
        guards=[allow("admin")],
        responses=errors(409, 422),
    )
    async def edit(
        self, rt: Rt, caller: CallerDep, handover_id: FromPath[str], data: JSONBody[HandoverPatch]
    ) -> HandoverOut:
        return await closing.edit(rt, caller, handover_id, data)

    @post(
        "/{handover_id:str}/close",
        summary="Close the acta: end time, pending matters and audit head frozen, hashed",
        guards=[allow("admin")],
        responses=errors(409),
        status_code=200,
    )
    async def close(self, rt: Rt, caller: CallerDep, handover_id: FromPath[str]) -> HandoverOut:
        return await closing.close(rt, caller, handover_id)
