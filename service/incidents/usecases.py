"""Reporting an incident: record it, end access to the accounts, demand urgent rotation."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NoReturn

import msgspec

from service.audit.log import Entry
from service.clock import past_instant_problem, rfc3339
from service.db.models import Incident
from service.domain.events import AccessEnded, RotationTriggered
from service.domain.triggers import Trigger
from service.errors import DomainError, Forbidden, InvalidInput, NotFound
from service.incidents.repository import IncidentRepository
from service.incidents.schemas import IncidentDetail, IncidentOut
from service.principal import Caller
from service.rotations.obligations import obligation_out
from service.rotations.repository import RotationRepository
from service.runtime import Runtime

INCIDENT_TYPES = ("sustraccion", "extravio", "acceso_no_autorizado")
MAX_ACCOUNTS = 100


async def _refuse(rt: Runtime, caller: Caller, error: DomainError, why: str, n: int) -> NoReturn:
    await rt.record(
        caller,
        Entry("incident.reported", "denied", reason=why, details={"accounts": n}),
    )
    raise error


async def _visibility(
    rt: Runtime, caller: Caller, accounts: list[str]
) -> tuple[DomainError, str] | None:
    """Why the caller may not report on these accounts, or None."""
    async with rt.reader() as r:
        repo = IncidentRepository(r)
        if caller.principal is not None and caller.principal.role == "gestor":
            visible = await repo.assigned_accounts(caller.principal.gestor_id or "", accounts)
            if visible != set(accounts):
                error = Forbidden("You may report incidents only for accounts assigned to you")
                return error, "not_assigned"
            return None
        known = await repo.existing_accounts(accounts)
    if known != set(accounts):
        missing = sorted(set(accounts) - known)
        return InvalidInput("Unknown account ids", unknown_account_ids=missing), "unknown_accounts"
    return None


async def report(
    rt: Runtime,
    caller: Caller,
    *,
    type_: str,
    account_ids: list[str],
    description: str,
    detected_at: datetime,
) -> IncidentDetail:
    """Record the incident, force-close checkouts, open urgent obligations; all or nothing."""
    accounts = list(dict.fromkeys(account_ids))
    now = rt.clock.now()
    if not accounts:
        await _refuse(rt, caller, InvalidInput("An incident needs at least one account"), "none", 0)
    if len(accounts) > MAX_ACCOUNTS:
        error: DomainError = InvalidInput(f"At most {MAX_ACCOUNTS} accounts per incident")
        await _refuse(rt, caller, error, "too_many", len(accounts))
    problem = past_instant_problem(detected_at, now)
    if problem is not None:
        error = InvalidInput(f"detected_at {problem}", field="detected_at")
        await _refuse(rt, caller, error, "detected_at", len(accounts))
    refusal = await _visibility(rt, caller, accounts)
    if refusal is not None:
        # Recorded after the read transaction ended: SQLite allows one writer at a time.
        await _refuse(rt, caller, refusal[0], refusal[1], len(accounts))
    incident_id = str(uuid.uuid4())
    async with rt.unit_of_work(caller) as uow:
        repo = IncidentRepository(uow)
        # Row locks first: access to these accounts ends here (see lock_accounts).
        await repo.lock_accounts(accounts)
        await repo.add(
            Incident(
                id=incident_id,
                type=type_,
                account_ids=accounts,
                description=description,
                detected_at=detected_at,
                reported_by=caller.actor,
                reported_by_role=caller.role or "system",
                created_at=now,
            )
        )
        uow.record(
            Entry(
                "incident.reported",
                "ok",
                subject=f"incident:{incident_id}",
                reason=type_,
                details={"type": type_, "account_ids": accounts},
            )
        )
        await uow.publish(AccessEnded(close_reason="incident", account_ids=tuple(accounts)))
        trigger = Trigger.incident_reported(incident_id, type_)
        for account_id in accounts:
            await uow.publish(RotationTriggered(account_id, trigger))
    return await get_incident(rt, incident_id)


def _out(row: Incident) -> IncidentOut:
    return IncidentOut(
        id=row.id,
        type=row.type,
        account_ids=list(row.account_ids),
        description=row.description,
        detected_at=rfc3339(row.detected_at),
        reported_by=row.reported_by,
        reported_by_role=row.reported_by_role,
        created_at=rfc3339(row.created_at),
    )


async def get_incident(rt: Runtime, incident_id: str) -> IncidentDetail:
    """The incident with the obligations it caused (or joined), in their state now."""
    async with rt.reader() as r:
        now = r.now()
        row = await IncidentRepository(r).get(incident_id)
        if row is None:
            raise NotFound(f"No incident with id {incident_id}")
        candidates = await RotationRepository(r).for_accounts(list(row.account_ids))
    mine = [
        obligation_out(o, now)
        for o in candidates
        if any(g.get("type") == "incident" and g.get("id") == incident_id for g in o.origins)
    ]
    return IncidentDetail(**msgspec.structs.asdict(_out(row)), obligations=mine)


async def list_incidents(rt: Runtime, limit: int) -> list[IncidentOut]:
    async with rt.reader() as r:
        rows = await IncidentRepository(r).recent(limit)
    return [_out(row) for row in rows]
