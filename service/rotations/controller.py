"""HTTP: rotation obligations. There is deliberately no way to mark one satisfied."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from service.domain.rotation import RotationReason, RotationStatus
from service.http.auth import CallerDep, Rt, allow
from service.http.problems import errors
from service.rotations import usecases
from service.rotations.schemas import ManualObligation, ObligationOut, SummaryOut


class RotationController(Controller):
    path = "/v1/rotations"
    tags = ["rotations"]
    guards = [allow("admin", "auditor")]

    @get("/", summary="List rotation obligations; status is computed from the clock")
    async def list_obligations(
        self,
        rt: Rt,
        status: Annotated[RotationStatus | None, QueryParameter()] = None,
        account_id: Annotated[str | None, QueryParameter(max_length=36)] = None,
        reason: Annotated[RotationReason | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> list[ObligationOut]:
        return await usecases.list_obligations(
            rt, status=status, account_id=account_id, reason=reason, limit=limit
        )

    @get("/summary", summary="Counts by status and the oldest overdue obligation")
    async def summary(self, rt: Rt) -> SummaryOut:
        return await usecases.summary(rt)

    @get("/{obligation_id:str}", summary="One rotation obligation", responses=errors(404))
    async def get_obligation(self, rt: Rt, obligation_id: FromPath[str]) -> ObligationOut:
        return await usecases.get_obligation(rt, obligation_id)

    @post(
        "/",
        summary="Open a manual rotation obligation (merged into an open one)",
        guards=[allow("admin")],
        responses=errors(404, 409),
    )
    async def open_manual(
        self, rt: Rt, caller: CallerDep, data: JSONBody[ManualObligation]
    ) -> ObligationOut:
        return await usecases.open_manual(
            rt, caller, account_id=data.account_id, reason=data.reason
        )
