"""HTTP: the security protocol's incidents."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from service.http.auth import CallerDep, Rt, allow
from service.http.problems import errors
from service.incidents import usecases
from service.incidents.schemas import IncidentDetail, IncidentIn, IncidentOut


class IncidentController(Controller):
    path = "/v1/incidents"
    tags = ["incidents"]

    @post(
        "/",
        summary="Report an incident: checkouts closed, urgent rotation obligations opened",
        guards=[allow("admin", "gestor")],
        responses=errors(403, 422),
    )
    async def report(self, rt: Rt, caller: CallerDep, data: JSONBody[IncidentIn]) -> IncidentDetail:
        return await usecases.report(
            rt,
            caller,
            type_=data.type,
            account_ids=data.account_ids,
            description=data.description,
            detected_at=data.detected_at,
        )

    @get("/", summary="List incidents, newest first", guards=[allow("admin", "auditor")])
    async def list_incidents(
        self, rt: Rt, limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100
    ) -> list[IncidentOut]:
        return await usecases.list_incidents(rt, limit)

    @get(
        "/{incident_id:str}",
        summary="One incident with its obligations and their state",
        guards=[allow("admin", "auditor")],
        responses=errors(404),
    )
    async def get_incident(self, rt: Rt, incident_id: FromPath[str]) -> IncidentDetail:
        return await usecases.get_incident(rt, incident_id)
