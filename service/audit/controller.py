"""HTTP: browsing the audit log (auditor, admin). Each query is itself an audit event."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter

from service.audit.log import Entry, event_dict
from service.audit.queries import MAX_SEQ, make_filter
from service.audit.repository import AuditEventRepository
from service.http.auth import CallerDep, Rt, allow
from service.http.problems import errors

Text = Annotated[str | None, QueryParameter(max_length=200)]


class AuditEventOut(msgspec.Struct):
    seq: int
    ts: str
    actor: str | None
    actor_role: str | None
    action: str
    outcome: str
    account_id: str | None
    subject: str | None
    reason: str | None
    request_id: str | None
    ip: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class EventPage(msgspec.Struct):
    events: list[AuditEventOut]
    # Pass as after_seq for the next page; null when this page was the last.
    next_after_seq: int | None


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
        # The search runs outside the write transaction: a long scan must not hold
        # the chain lock that every write of every replica waits for.
        async with rt.reader() as reader:
            found = [event_dict(row) for row in await AuditEventRepository(reader).search(query)]
        details = {**query.as_details(), "count": len(found)}
        await rt.record(caller, Entry("audit.queried", "ok", details=details))
        last = found[-1]["seq"] if len(found) == limit else None
        return EventPage([msgspec.convert(e, AuditEventOut) for e in found], last)
