"""HTTP: the security protocol's incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from service.http.auth import CallerDep, Rt, allow
from service.http.problems import errors
from service.incidents import usecases
from service.rotations.schemas import ObligationOut

AccountId = Annotated[str, msgspec.Meta(min_length=1, max_length=36)]


class IncidentIn(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["sustraccion", "extravio", "acceso_no_autorizado"]
    # Emptiness and the 100 cap are checked by the use case, to answer 422.
    account_ids: Annotated[list[AccountId], msgspec.Meta(max_length=1000)]
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=5000)]
    detected_at: datetime


class IncidentOut(msgspec.Struct):
    id: str
    type: str
    account_ids: list[str]
    description: str
    detected_at: str
    reported_by: str
    reported_by_role: str
    created_at: str


class IncidentDetail(IncidentOut):
    obligations: list[ObligationOut]


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
        view = await usecases.report(
            rt,
            caller,
            type_=data.type,
            account_ids=data.account_ids,
            description=data.description,
            detected_at=data.detected_at,
        )
        return msgspec.convert(view, IncidentDetail)

    @get("/", summary="List incidents, newest first", guards=[allow("admin", "auditor")])
    async def list_incidents(
        self, rt: Rt, limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100
    ) -> list[IncidentOut]:
        return [msgspec.convert(v, IncidentOut) for v in await usecases.list_incidents(rt, limit)]

    @get(
        "/{incident_id:str}",
        summary="One incident with its obligations and their state",
        guards=[allow("admin", "auditor")],
        responses=errors(404),
    )
    async def get_incident(self, rt: Rt, incident_id: FromPath[str]) -> IncidentDetail:
        view: dict[str, Any] = await usecases.get_incident(rt, incident_id)
        return msgspec.convert(view, IncidentDetail)
