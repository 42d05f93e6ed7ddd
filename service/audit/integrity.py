"""HTTP: the chain's integrity for internal control — public key, checkpoints, verify, export."""

from __future__ import annotations

import base64
from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream

from service.audit.chain import (
    audited,
    export_lines,
    export_range,
    list_checkpoints,
    result_body,
    verify_stored_chain,
)
from service.audit.queries import MAX_SEQ, parse_time
from service.errors import BadQuery
from service.http.auth import CallerDep, Rt, allow

JSON_LINES = "application/x-ndjson"


class PublicKey(msgspec.Struct):
    algorithm: str
    public_key: str
    key_version: int


class Checkpoint(msgspec.Struct):
    seq: int
    hash: str
    ts: str
    signature: str
    key_version: int


class Head(msgspec.Struct):
    seq: int
    hash: str


class Verification(msgspec.Struct):
    valid: bool
    checked: int
    head: Head
    first_invalid_seq: int | None
    problem: str | None


class AuditIntegrityController(Controller):
    path = "/v1/audit"
    tags = ["audit"]
    guards = [allow("auditor", "admin")]

    @get("/public-key", summary="The Ed25519 public key that verifies checkpoint signatures")
    async def public_key(self, rt: Rt) -> PublicKey:
        keys = await rt.vault.public_keys()
        version = max(keys)
        return PublicKey("ed25519", base64.b64encode(keys[version]).decode(), version)

    @get("/checkpoints", summary="Signed checkpoints of the chain, by ascending seq")
    async def checkpoints(
        self,
        rt: Rt,
        caller: CallerDep,
        after_seq: Annotated[int, QueryParameter(ge=0, le=MAX_SEQ)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 1000,
    ) -> list[Checkpoint]:
        rows = await list_checkpoints(rt, after_seq, limit)
        await audited(rt, caller, "audit.checkpoints_listed", after_seq=after_seq, count=len(rows))
        return [Checkpoint(**row) for row in rows]

    @get("/verify", summary="Recompute the chain from genesis and check every checkpoint")
    async def verify(self, rt: Rt, caller: CallerDep) -> Verification:
        body = result_body(await verify_stored_chain(rt))
        await audited(
            rt,
            caller,
            "audit.verified",
            valid=body["valid"],
            checked=body["checked"],
            head_seq=body["head"]["seq"],
            first_invalid_seq=body["first_invalid_seq"],
            problem=body["problem"],
        )
        return msgspec.convert(body, Verification)

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
        start, end = parse_time("since", since), parse_time("until", until)
        if start is not None and end is not None and start >= end:
            raise BadQuery("since must be before until", field="since")
        # Recorded before the range is fixed, so an open-ended export includes its own event.
        await audited(rt, caller, "audit.exported", since=since, until=until)
        span = await export_range(rt, start, end)
        name = "empty" if span.empty else f"{span.first}-{span.last}"
        headers: dict[str, Any] = {
            "Content-Disposition": f'attachment; filename="custodia-audit-{name}.jsonl"',
            "Cache-Control": "no-store",
        }
        return Stream(export_lines(rt, span), media_type=JSON_LINES, headers=headers)
