"""Reporting an incident: record it, end access to the accounts, demand urgent rotation."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NoReturn

from service.audit.log import Entry, append
from service.clock import past_instant_problem, rfc3339
from service.db.models import Incident
from service.domain.triggers import Trigger
from service.errors import DomainError, Forbidden, InvalidInput, NotFound
from service.incidents.repository import IncidentRepository
from service.principal import Caller
from service.rotations import triggers
from service.rotations.access import force_close_checkouts
from service.rotations.obligations import as_utc, obligation_view
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
    async with rt.sessions() as session:
        repo = IncidentRepository(session)
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
) -> dict[str, Any]:
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
        # Recorded after the read session closed: SQLite allows one writer at a time.
        await _refuse(rt, caller, refusal[0], refusal[1], len(accounts))
    incident_id = str(uuid.uuid4())
    async with rt.transaction() as session:
        incident = Incident(
            id=incident_id,
            type=type_,
            account_ids=accounts,
            description=description,
            detected_at=detected_at,
            reported_by=caller.actor,
            reported_by_role=caller.role or "system",
            created_at=now,
        )
        session.add(incident)
        await session.flush()
        await append(
            session,
            caller,
            Entry(
                "incident.reported",
                "ok",
                subject=f"incident:{incident_id}",
                reason=type_,
                details={"type": type_, "account_ids": accounts},
            ),
            rt.clock,
        )
        await force_close_checkouts(
            session, caller, rt.clock, account_ids=accounts, close_reason="incident"
        )
        for account_id in accounts:
            await triggers.fire(
                session,
                caller,
                rt.clock,
                rt.settings,
                account_id=account_id,
                trigger=Trigger.incident_reported(incident_id, type_),
            )
    return await get_incident(rt, incident_id)


def _view(row: Incident) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.type,
        "account_ids": list(row.account_ids),
        "description": row.description,
        "detected_at": rfc3339(as_utc(row.detected_at)),
        "reported_by": row.reported_by,
        "reported_by_role": row.reported_by_role,
        "created_at": rfc3339(as_utc(row.created_at)),
    }


async def get_incident(rt: Runtime, incident_id: str) -> dict[str, Any]:
    """The incident with the obligations it caused (or joined), in their state now."""
    now = rt.clock.now()
    async with rt.sessions() as session:
        row = await IncidentRepository(session).get(incident_id)
        if row is None:
            raise NotFound(f"No incident with id {incident_id}")
        candidates = await RotationRepository(session).for_accounts(list(row.account_ids))
    mine = [
        obligation_view(o, now)
        for o in candidates
        if any(g.get("type") == "incident" and g.get("id") == incident_id for g in o.origins)
    ]
    return {**_view(row), "obligations": mine}


async def list_incidents(rt: Runtime, limit: int) -> list[dict[str, Any]]:
    async with rt.sessions() as session:
        rows = await IncidentRepository(session).recent(limit)
    return [_view(r) for r in rows]
