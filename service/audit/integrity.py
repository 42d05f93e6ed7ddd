"""HTTP: the chain's integrity for internal control — public key, checkpoints, verify, export."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream

from service.audit.queries import MAX_SEQ, make_window
from service.audit.schemas import Checkpoint, PublicKey, Verification
from service.audit.usecases import check_chain, list_checkpoints, newest_public_key, start_export
from service.http.auth import CallerDep, Rt, allow

JSON_LINES = "application/x-ndjson"


class AuditIntegrityController(Controller):
    path = "/v1/audit"
    tags = ["audit"]
    guards = [allow("auditor", "admin")]

    @get("/public-key", summary="The Ed25519 public key that verifies checkpoint signatures")
    async def public_key(self, rt: Rt) -> PublicKey:
        return await newest_public_key(rt)

    @get("/checkpoints", summary="Signed checkpoints of the chain, by ascending seq")
    async def checkpoints(
        self,
        rt: Rt,
        caller: CallerDep,
        after_seq: Annotated[int, QueryParameter(ge=0, le=MAX_SEQ)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 1000,
    ) -> list[Checkpoint]:
        return await list_checkpoints(rt, caller, after_seq, limit)

    @get("/verify", summary="Recompute the chain from genesis and check every checkpoint")
    async def verify(self, rt: Rt, caller: CallerDep) -> Verification:
        return await check_chain(rt, caller)

    @get(
        "/export",
        summary="Stream the chain as JSON Lines: events, then the checkpoints in range",
        media_type=JSON_LINES,
    )
    async def export(
        self,
        rt: Rt,
        caller: CallerDep,
        since: FromQuery[str | None] = None,
        until: FromQuery[str | None] = None,
    ) -> Stream:
        export = await start_export(rt, caller, make_window(since, until))
        headers = {
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "Cache-Control": "no-store",
        }
        return Stream(export.lines, media_type=JSON_LINES, headers=headers)
