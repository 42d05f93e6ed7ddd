"""Recording a gestor's departure: access ends in one SQL transaction, then Vault.

Order matters. Tokens, assignments, checkouts, obligations and the case file
commit together first, so access ends even while Vault is down. Destroying the
TOTP seed comes after; until it succeeds the case file says ``seed_destroyed:
false`` and the call answers 503, to be retried (by the admin, or by the
periodic job). The seed is useless meanwhile: a departed gestor cannot log in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.audit.log import Entry, append
from service.clock import past_instant_problem, rfc3339
from service.db.models import Gestor
from service.departures.repository import DepartureRepository
from service.domain.rotation import CaseFileEntry, departure_case_file
from service.domain.triggers import Trigger
from service.errors import InvalidInput, NotFound, VaultDenied, VaultUnavailable
from service.principal import SYSTEM, Caller
from service.rotations import triggers
from service.rotations.access import force_close_checkouts
from service.rotations.obligations import as_utc
from service.runtime import Runtime
from service.tokens.repository import TokenRepository


def _ts(value: datetime | None) -> str | None:
    return None if value is None else rfc3339(value)


async def depart(
    rt: Runtime,
    caller: Caller,
    gestor_id: str,
    *,
    reason: str,
    effective_at: datetime | None = None,
) -> dict[str, Any]:
    """Record the departure (once) and answer its case file; a repeat answers the same."""
    now = rt.clock.now()
    problem = None if effective_at is None else past_instant_problem(effective_at, now)
    if problem is not None:
        raise InvalidInput(f"effective_at {problem}", field="effective_at")
    # Within the skew allowance a client's "now" is taken as ours.
    at = now if effective_at is None else min(effective_at, now)
    async with rt.transaction() as session:
        repo = DepartureRepository(session)
        gestor = await repo.gestor(gestor_id, lock=True)
        if gestor is None:
            raise NotFound(f"No gestor with id {gestor_id}")
        if gestor.departed_at is None:
            await _end_access(rt, session, caller, gestor, at, reason)
        case = dict(gestor.departure_case_file or {})
    if not case.get("seed_destroyed"):
        case = await destroy_seed(rt, caller, gestor_id)
    return case


async def _end_access(
    rt: Runtime,
    session: AsyncSession,
    caller: Caller,
    gestor: Gestor,
    at: datetime,
    reason: str,
) -> None:
    repo = DepartureRepository(session)
    revoked = await TokenRepository(session).revoke_for_gestor(gestor.id, at)
    ended = await repo.end_assignments(gestor.id, at)
    closed = await force_close_checkouts(
        session, caller, rt.clock, gestor_id=gestor.id, close_reason="gestor_departure"
    )
    gestor.departed_at = at
    gestor.departure_reason = reason
    assignments = await repo.assignments(gestor.id)
    accounts = sorted({a.account_id for a in assignments})
    # A rotation the gestor could still read (made while they had access, or by
    # them at check-in) leaves them knowing the password, so only rotations after
    # their access ended count (Décima quinta: every account they had access to).
    entries = departure_case_file(
        assignments,
        await repo.last_rotations(accounts),
        await repo.retrievals(gestor.id),
        at,
        rotated_since="access_ended",
    )
    obligations = []
    for entry in entries:
        if entry.needs_obligation:
            row = await triggers.fire(
                session,
                caller,
                rt.clock,
                rt.settings,
                account_id=entry.account_id,
                trigger=Trigger.gestor_departed(gestor.id, effective_at=at),
            )
            if row is None:  # handed back (Décima novena): no obligation to list
                continue
            obligations.append(
                {
                    "id": row.id,
                    "account_id": row.account_id,
                    "reason": row.reason,
                    "due_at": rfc3339(as_utc(row.due_at)),
                }
            )
    labels = await repo.account_labels(accounts)
    gestor.departure_case_file = {
        "gestor_id": gestor.id,
        "gestor_name": gestor.name,
        "effective_at": rfc3339(at),
        "recorded_at": rfc3339(rt.clock.now()),
        "recorded_by": caller.actor,
        "reason": reason,
        "tokens_revoked": revoked,
        "assignments_ended": len(ended),
        "checkouts_closed": closed,
        "accounts": [_account(e, labels.get(e.account_id)) for e in entries],
        "obligations": obligations,
        "seed_destroyed": False,
        "seed_destroyed_at": None,
    }
    await append(
        session,
        caller,
        Entry(
            "gestor.departed",
            "ok",
            subject=f"gestor:{gestor.id}",
            reason=reason,
            details={
                "effective_at": rfc3339(at),
                "tokens_revoked": revoked,
                "assignments_ended": len(ended),
                "checkouts_closed": len(closed),
                "accounts": len(entries),
                "obligations": len(obligations),
            },
        ),
        rt.clock,
    )


def _account(entry: CaseFileEntry[str], label: tuple[str, str] | None) -> dict[str, Any]:
    platform, handle = label or (None, None)
    return {
        "account_id": entry.account_id,
        "platform": platform,
        "handle": handle,
        "access_began": rfc3339(entry.access_began),
        "access_ended": rfc3339(entry.access_ended),
        "last_rotation": _ts(entry.last_rotation),
        "rotated_since_access_ended": not entry.needs_obligation,
        "retrieved_since_rotation": entry.retrieved_since_rotation,
        "last_retrieved_at": _ts(entry.last_retrieved_at),
        "retrievals_since_rotation": len(entry.retrievals_since_rotation),
    }


async def destroy_seed(rt: Runtime, caller: Caller, gestor_id: str) -> dict[str, Any]:
    """Destroy the departed gestor's TOTP seed in Vault, then say so in the case file."""
    try:
        await rt.vault.destroy_totp_seed(gestor_id)
    except (VaultUnavailable, VaultDenied) as exc:
        await rt.record(
            caller,
            Entry(
                "gestor.totp_seed_destroyed",
                "error",
                subject=f"gestor:{gestor_id}",
                details={"error": exc.title},
            ),
        )
        raise VaultUnavailable(
            "Access has ended (tokens, assignments and checkouts), but the TOTP seed "
            "could not be destroyed in Vault yet; repeat the call to finish",
            seed_destroyed=False,
        ) from None
    async with rt.transaction() as session:
        gestor = await DepartureRepository(session).gestor(gestor_id, lock=True)
        assert gestor is not None and gestor.departure_case_file is not None
        case = dict(gestor.departure_case_file)
        if case.get("seed_destroyed"):
            return case
        case["seed_destroyed"] = True
        case["seed_destroyed_at"] = rfc3339(rt.clock.now())
        # A new dict, so SQLAlchemy sees the JSON column change.
        gestor.departure_case_file = case
        await append(
            session,
            caller,
            Entry("gestor.totp_seed_destroyed", "ok", subject=f"gestor:{gestor_id}"),
            rt.clock,
        )
    return case


async def case_file(rt: Runtime, gestor_id: str) -> dict[str, Any]:
    async with rt.sessions() as session:
        gestor = await DepartureRepository(session).gestor(gestor_id)
    if gestor is None:
        raise NotFound(f"No gestor with id {gestor_id}")
    if gestor.departure_case_file is None:
        raise NotFound("The gestor has not departed")
    return dict(gestor.departure_case_file)


async def retry_seed_destruction(rt: Runtime) -> int:
    """Periodic: finish every departure whose TOTP seed is still in Vault."""
    async with rt.sessions() as session:
        gestores = await DepartureRepository(session).departed_gestores()
    pending = [
        g.id
        for g in gestores
        if g.departure_case_file and not g.departure_case_file.get("seed_destroyed")
    ]
    for gestor_id in pending:
        await destroy_seed(rt, SYSTEM, gestor_id)
    return len(pending)
