"""HTTP: browsing the audit log (auditor, admin). Each query is itself an audit event."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter

from service.audit.queries import MAX_SEQ, make_filter
from service.audit.schemas import EventPage
from service.audit.usecases import search_events
from service.http.auth import CallerDep, Rt, allow
from service.http.problems import errors

Text = Annotated[str | None, QueryParameter(max_length=200)]


class AuditController(Controller):
    path = "/v1/audit"
    tags = ["audit"]
    guards = [allow("auditor", "admin")]

    @get(
        "/events",
        summary="Audit events by ascending seq, filtered; keyset paging",
        responses=errors(400),
    )
    async def events(
        self,
        rt: Rt,
        caller: CallerDep,
        actor: Text = None,
        account_id: Text = None,
        action: Text = None,
        outcome: Text = None,
        since: FromQuery[str | None] = None,
        until: FromQuery[str | None] = None,
        after_seq: Annotated[int, QueryParameter(ge=0, le=MAX_SEQ)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> EventPage:
        query = make_filter(
            actor=actor,
            account_id=account_id,
            action=action,
            outcome=outcome,
            since=since,
            until=until,
            after_seq=after_seq,
            limit=limit,
        )
        return await search_events(rt, caller, query)
