"""HTTP: a gestor's departure and its case file."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from service.departures.schemas import CaseFile, DepartureIn
from service.departures.usecases import case_file, depart
from service.http.auth import CallerDep, Rt, allow
from service.http.problems import errors


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
        return await depart(
            rt, caller, gestor_id, reason=data.reason, effective_at=data.effective_at
        )

    @get(
        "/{gestor_id:str}/departure",
        summary="A departed gestor's case file",
        guards=[allow("admin", "auditor")],
        responses=errors(404),
    )
    async def read(self, rt: Rt, gestor_id: FromPath[str]) -> CaseFile:
        return await case_file(rt, gestor_id)
