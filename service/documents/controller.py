"""HTTP: the protocolo de seguridad (admin, auditor)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get
from litestar.params import QueryParameter

from service.documents.formats import DOCUMENT_FORMATS, parse_format
from service.documents.schemas import SecurityProtocolJson, document_response
from service.documents.usecases import security_protocol
from service.http.auth import CallerDep, Rt, allow

FormatParam = Annotated[
    str | None,
    QueryParameter(name="format", description="pdf (default), md or json", max_length=10),
]


class DocumentController(Controller):
    path = "/v1/documents"
    tags = ["documents"]
    guards = [allow("admin", "auditor")]

    @get(
        "/security-protocol",
        summary="Protocolo de seguridad (Décima quinta) from live data; audited",
        description=(
            "PDF (application/pdf), Markdown (text/markdown) or JSON (schema below). "
            "X-Content-SHA256 is the SHA-256 of the served bytes; the document prints "
            "the SHA-256 of its content and the audit-chain head just before this "
            "generation's own audit event. Built from SQL only: works while Vault is down."
        ),
        responses=document_response(SecurityProtocolJson, "The protocol in the format asked"),
    )
    async def security_protocol(
        self, rt: Rt, caller: CallerDep, fmt: FormatParam = None
    ) -> Response[bytes]:
        chosen = parse_format(fmt, DOCUMENT_FORMATS)
        generated = await security_protocol(rt, caller, chosen)
        out = generated.rendered
        headers = out.headers(
            **{
                "X-Document-Version": str(generated.version),
                "X-Content-Hash-Printed": generated.content_sha256,
                "X-Audit-Head-Seq": str(generated.audit_head.seq),
                "Cache-Control": "no-store",
            }
        )
        return Response(out.body, media_type=out.media_type, headers=headers)
