"""Recording a gestor's departure: access ends in one SQL transaction, then Vault.

Order matters. Tokens, assignments, checkouts, obligations and the case file
commit together first, so access ends even while Vault is down. Destroying the
TOTP seed comes after; until it succeeds the case file says ``seed_destroyed:
false`` and the call answers 503, to be retried (by the admin, or by the
periodic job). The seed is useless meanwhile: a departed gestor cannot log in.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from service.audit.log import Entry
from service.clock import past_instant_problem, rfc3339
from service.db.models import Gestor
from service.departures.repository import DepartureRepository
from service.departures.schemas import CaseFile, CaseFileAccount, CaseFileObligation
from service.domain.events import AccessEnded, CheckoutsClosed, ObligationRef, RotationTriggered
from service.domain.exposure import SECRETS, WHY_REQUIRED
from service.domain.rotation import CaseFileEntry, departure_case_file
from service.domain.triggers import Trigger
from service.errors import InvalidInput, NotFound, VaultDenied, VaultUnavailable
from service.principal import SYSTEM, Caller
from service.runtime import Runtime
from service.tokens.repository import TokenRepository
from service.uow import UnitOfWork


def _ts(value: datetime | None) -> str | None:
    return None if value is None else rfc3339(value)


async def depart(
    rt: Runtime,
    caller: Caller,
    gestor_id: str,
    *,
    reason: str,
    effective_at: datetime | None = None,
) -> CaseFile:
    """Record the departure (once) and answer its case file; a repeat answers the same."""
    now = rt.clock.now()
    problem = None if effective_at is None else past_instant_problem(effective_at, now)
    if problem is not None:
        raise InvalidInput(f"effective_at {problem}", field="effective_at")
    # Within the skew allowance a client's "now" is taken as ours.
    at = now if effective_at is None else min(effective_at, now)
    async with rt.unit_of_work(caller) as uow:
        repo = DepartureRepository(uow)
        # Canonical lock order: the gestor's accounts (shared, by id), then the gestor
        # row, on which a second departure or a checkout grant waits. A handover or an
        # incident locks accounts before people too, so none of them can deadlock.
        accounts = sorted({a.account_id for a in await repo.assignments(gestor_id)})
        await repo.share_lock_accounts(accounts)
        gestor = await repo.gestor(gestor_id, lock=True)
        if gestor is None:
            raise NotFound(f"No gestor with id {gestor_id}")
        if gestor.departed_at is None:
            if effective_at is not None:
                await _refuse_before_access_began(repo, gestor, at)
            await _end_access(uow, gestor, at, reason)
        case = repo.case_file(gestor)
    if case is None or not case.seed_destroyed:
        case = await destroy_seed(rt, caller, gestor_id)
    return case


async def _refuse_before_access_began(
    repo: DepartureRepository, gestor: Gestor, at: datetime
) -> None:
    """Access cannot end before it began: not before the gestor's first assignment.

    A gestor never assigned had access to nothing; their departure may not precede
    their registration. Read under the gestor's lock, with the assignments it guards.
    """
    first = await repo.first_assignment(gestor.id)
    if first is None:
        bound, what = gestor.created_at, "the gestor was registered"
    else:
        bound, what = first, "the gestor's first assignment began"
    if at < bound:
        raise InvalidInput(
            f"effective_at cannot precede {rfc3339(bound)}, when {what}",
            field="effective_at",
            not_before=rfc3339(bound),
        )


async def _end_access(uow: UnitOfWork, gestor: Gestor, at: datetime, reason: str) -> None:
    """Revoke tokens, end assignments, close checkouts, owe rotations; store the case file."""
    repo = DepartureRepository(uow)
    # Re-read under the gestor's lock: an assignment made meanwhile counts too.
    accounts = sorted({a.account_id for a in await repo.assignments(gestor.id)})
    revoked = await TokenRepository(uow).revoke_for_gestor(gestor.id, at)
    ended = await repo.end_assignments(gestor.id, at)
    answers = await uow.publish(AccessEnded("gestor_departure", gestor_id=gestor.id))
    closed = [i for a in answers if isinstance(a, CheckoutsClosed) for i in a.ids]
    gestor.departed_at = at
    gestor.departure_reason = reason
    # A rotation the gestor could still read (made while they had access, or by
    # them at check-in) leaves them knowing the password, so only rotations after
    # their access ended count (Décima quinta: every account they had access to).
    entries = departure_case_file(
        await repo.assignments(gestor.id),
        await repo.last_rotations(accounts),
        await repo.retrievals(gestor.id),
        at,
        rotated_since="access_ended",
    )
    obligations = await _owe_rotations(uow, gestor.id, at, entries)
    labels = await repo.account_labels(accounts)
    repo.store_case_file(
        gestor,
        CaseFile(
            gestor_id=gestor.id,
            gestor_name=gestor.name,
            effective_at=rfc3339(at),
            recorded_at=rfc3339(uow.now()),
            recorded_by=uow.caller.actor,
            reason=reason,
            tokens_revoked=revoked,
            assignments_ended=len(ended),
            checkouts_closed=closed,
            accounts=[_account(e, labels.get(e.account_id)) for e in entries],
            obligations=obligations,
            seed_destroyed=False,
            seed_destroyed_at=None,
        ),
    )
    uow.record(
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
        )
    )


async def _owe_rotations(
    uow: UnitOfWork, gestor_id: str, at: datetime, entries: list[CaseFileEntry[str]]
) -> list[CaseFileObligation]:
    """An obligation for every account whose password, backup codes or seed the gestor knows.

    The password: not rotated since their access ended. Codes they saw and a seed
    they wrote are rotations' to find (service.rotations.handlers), even where the
    password has changed since.
    """
    obligations = []
    for entry in entries:
        trigger = Trigger.gestor_departed(
            gestor_id, effective_at=at, knows_password=entry.needs_obligation
        )
        answers = await uow.publish(RotationTriggered(entry.account_id, trigger))
        # No answer: nothing known, or handed back (Décima novena): nothing to list.
        for ref in (a for a in answers if isinstance(a, ObligationRef)):
            obligations.append(
                CaseFileObligation(
                    ref.id,
                    ref.account_id,
                    ref.reason,
                    rfc3339(ref.due_at),
                    requires=sorted(ref.requires),
                    why=[WHY_REQUIRED[s] for s in SECRETS if s in ref.trigger_requires],
                )
            )
    return obligations


def _account(entry: CaseFileEntry[str], label: tuple[str, str] | None) -> CaseFileAccount:
    platform, handle = label or (None, None)
    return CaseFileAccount(
        account_id=entry.account_id,
        platform=platform,
        handle=handle,
        access_began=rfc3339(entry.access_began),
        access_ended=rfc3339(entry.access_ended),
        last_rotation=_ts(entry.last_rotation),
        rotated_since_access_ended=not entry.needs_obligation,
        retrieved_since_rotation=entry.retrieved_since_rotation,
        last_retrieved_at=_ts(entry.last_retrieved_at),
        retrievals_since_rotation=len(entry.retrievals_since_rotation),
    )


async def destroy_seed(rt: Runtime, caller: Caller, gestor_id: str) -> CaseFile:
    """Destroy the departed gestor's TOTP seed in Vault, then say so in the case file."""
    async with rt.reader() as r:
        named = await DepartureRepository(r).gestor(gestor_id)
    try:
        # The seed SQL names: its enrolment's own path (None: the one path before 0006).
        await rt.vault.destroy_totp_seed(gestor_id, named.totp_seed_id if named else None)
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
    async with rt.unit_of_work(caller) as uow:
        repo = DepartureRepository(uow)
        gestor = await repo.gestor(gestor_id, lock=True)
        assert gestor is not None
        case = repo.case_file(gestor)
        assert case is not None
        if case.seed_destroyed:
            return case
        case = msgspec.structs.replace(
            case, seed_destroyed=True, seed_destroyed_at=rfc3339(uow.now())
        )
        repo.store_case_file(gestor, case)
        uow.record(Entry("gestor.totp_seed_destroyed", "ok", subject=f"gestor:{gestor_id}"))
    return case


async def case_file(rt: Runtime, gestor_id: str) -> CaseFile:
    async with rt.reader() as r:
        gestor = await DepartureRepository(r).gestor(gestor_id)
    if gestor is None:
        raise NotFound(f"No gestor with id {gestor_id}")
    case = DepartureRepository.case_file(gestor)
    if case is None:
        raise NotFound("The gestor has not departed")
    return case


async def retry_seed_destruction(rt: Runtime) -> int:
    """Periodic: finish every departure whose TOTP seed is still in Vault."""
    async with rt.reader() as r:
        gestores = await DepartureRepository(r).departed_gestores()
    cases = {g.id: DepartureRepository.case_file(g) for g in gestores}
    pending = [gid for gid, case in cases.items() if case is not None and not case.seed_destroyed]
    for gestor_id in pending:
        await destroy_seed(rt, SYSTEM, gestor_id)
    return len(pending)
