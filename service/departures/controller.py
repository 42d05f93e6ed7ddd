"""HTTP: a gestor's departure and its case file."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from service.departures.usecases import case_file, depart
from service.http.auth import CallerDep, Rt, allow
from service.http.problems import errors


class DepartureIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    effective_at: datetime | None = None


class CaseFileAccount(msgspec.Struct):
    account_id: str
    platform: str | None
    handle: str | None
    access_began: str
    access_ended: str
    last_rotation: str | None
    rotated_since_access_ended: bool
    retrieved_since_rotation: bool
    last_retrieved_at: str | None
    retrievals_since_rotation: int


class CaseFileObligation(msgspec.Struct):
    id: str
    account_id: str
    reason: str
    due_at: str


class CaseFile(msgspec.Struct):
    """What the departure did and what it left owing; stored once, answered on every call."""

    gestor_id: str
    gestor_name: str
    effective_at: str
    recorded_at: str
    recorded_by: str
    reason: str
    tokens_revoked: int
    assignments_ended: int
    checkouts_closed: list[str]
    accounts: list[CaseFileAccount]
    obligations: list[CaseFileObligation]
    seed_destroyed: bool
    seed_destroyed_at: str | None


def case_file_out(view: dict[str, Any]) -> CaseFile:
    return msgspec.convert(view, CaseFile)


class DepartureController(Controller):
    path = "/v1/gestores"
    tags = ["departures"]

    @post(
        "/{gestor_id:str}/departure",
        summary="Record a departure: access ends at once; answers the case file (idempotent)",
        guards=[allow("admin")],
        status_code=200,
        responses=errors(404, 422, 503),
    )
    async def depart(
        self, rt: Rt, caller: CallerDep, gestor_id: FromPath[str], data: JSONBody[DepartureIn]
    ) -> CaseFile:
        view = await depart(
            rt, caller, gestor_id, reason=data.reason, effective_at=data.effective_at
        )
        return case_file_out(view)

    @get(
        "/{gestor_id:str}/departure",
        summary="A departed gestor's case file",
        guards=[allow("admin", "auditor")],
        responses=errors(404),
    )
    async def read(self, rt: Rt, gestor_id: FromPath[str]) -> CaseFile:
        return case_file_out(await case_file(rt, gestor_id))
