"""How rotations react to other features' events, inside the publisher's unit of work.

The obligation, its audit entry and its webhook commit with the change that
caused them, or not at all.
"""

from __future__ import annotations

import uuid

from service.audit.log import Entry
from service.clock import rfc3339
from service.db.models import RotationObligation
from service.domain.events import (
    CredentialLeftCustody,
    CredentialWritten,
    ObligationRef,
    ObligationSatisfied,
    ObligationWithdrawn,
    RotationTriggered,
)
from service.domain.exposure import PASSWORD_ONLY, Secret, stored_requires
from service.domain.rotation import (
    DeadlinePolicy,
    ObligationTerms,
    is_satisfied_by,
    merge_trigger,
    new_obligation,
    obligation_status,
)
from service.domain.triggers import Trigger, leaver, leaver_exposed, may_open_obligation
from service.rotations.obligations import webhook_data
from service.rotations.repository import RotationRepository
from service.uow import UnitOfWork


def ref(row: RotationObligation, asked: frozenset[Secret] = PASSWORD_ONLY) -> ObligationRef:
    """The obligation as other features see it; ``asked``: what the trigger answered required."""
    return ObligationRef(
        row.id, row.account_id, row.reason, row.due_at, stored_requires(row.requires), asked
    )


async def on_rotation_triggered(uow: UnitOfWork, event: RotationTriggered) -> ObligationRef | None:
    """Open or merge the account's obligation; None when the account left custody.

    A leaver's trigger also requires new backup codes, or a new seed, where they
    saw or wrote them; one that then requires nothing opens nothing.
    The account row is read with a share lock: a hand-back or a change that
    makes the account unholdable locks it for update, so either it committed
    before (seen here) or it waits for this transaction.
    """
    repo = RotationRepository(uow)
    may_hold = await repo.may_hold_now(event.account_id, uow.now())
    handed_back = may_hold and await repo.ever_handed_back(event.account_id)
    if not may_open_obligation(handed_back=handed_back, may_hold=may_hold):
        return None
    trigger = event.trigger
    gestor_id = leaver(trigger)
    if gestor_id is not None:
        # Read after the leaver's checkouts closed: a code revealed up to then counts.
        trigger = leaver_exposed(trigger, await repo.exposure(event.account_id, gestor_id))
    if not trigger.requires:
        return None
    row, _ = await open_or_merge(uow, event.account_id, trigger)
    return ref(row, trigger.requires)


async def open_or_merge(
    uow: UnitOfWork, account_id: str, trigger: Trigger
) -> tuple[RotationObligation, bool]:
    """Open an obligation for the account, or fold this trigger into its open one.

    Returns the obligation and whether anything changed.
    """
    policy = DeadlinePolicy.from_settings(uow.settings)
    at = trigger.triggered_at or uow.now()
    repo = RotationRepository(uow)
    existing = await repo.owed(account_id, lock=True)
    if existing is None:
        terms = new_obligation(trigger.reason, at, trigger.origin, policy, trigger.requires)
        row = RotationObligation(
            id=str(uuid.uuid4()),
            account_id=account_id,
            reason=terms.reason,
            triggered_by=uow.caller.actor,
            triggered_at=terms.triggered_at,
            due_at=terms.due_at,
            origins=list(terms.origins),
            requires=sorted(terms.requires),
        )
        existing = await repo.add_unless_owed(row)
        if existing is None:
            _changed(uow, "rotation.opened", row, trigger)
            return row, True
    current = ObligationTerms(
        existing.reason,  # type: ignore[arg-type]
        existing.triggered_at,
        existing.due_at,
        tuple(existing.origins),
        stored_requires(existing.requires),
    )
    merged = merge_trigger(current, trigger.reason, at, trigger.origin, policy, trigger.requires)
    if merged == current:
        return existing, False
    existing.due_at = merged.due_at
    existing.origins = list(merged.origins)
    existing.requires = sorted(merged.requires)
    await uow.flush()
    _changed(uow, "rotation.merged", existing, trigger)
    return existing, True


def _changed(uow: UnitOfWork, action: str, row: RotationObligation, trigger: Trigger) -> None:
    uow.record(
        Entry(
            action,
            "ok",
            account_id=row.account_id,
            subject=f"obligation:{row.id}",
            reason=trigger.note,
            details={
                "trigger": trigger.reason,
                "origin": trigger.origin,
                "due_at": rfc3339(row.due_at),
                "origins": len(row.origins),
                "requires": sorted(stored_requires(row.requires)),
            },
        )
    )
    uow.notify(action, webhook_data(row, uow.now()))


async def on_credential_written(
    uow: UnitOfWork, event: CredentialWritten
) -> ObligationSatisfied | None:
    """Satisfy the owed obligation if this new version is the evidence it waits for.

    It must replace every secret the obligation requires: a new password alone
    does not answer for backup codes or a seed that a leaver knew.
    """
    obligation = await RotationRepository(uow).owed(event.account_id)
    if obligation is None or not is_satisfied_by(
        obligation.triggered_at,
        event.created_time,
        password_differs=event.password_changed,
        written_through_service=True,
        origins=obligation.origins,
        writer_gestor_id=event.writer_gestor_id,
        access_ended_during_write=event.access_ended_during_write,
        requires=stored_requires(obligation.requires),
        replaced=event.replaced,
    ):
        return None
    obligation.satisfied_at = uow.now()
    obligation.satisfied_by_version = event.version
    obligation.satisfied_by = uow.caller.actor
    await uow.flush()
    uow.record(
        Entry(
            "rotation.satisfied",
            "ok",
            account_id=event.account_id,
            subject=f"obligation:{obligation.id}",
            details={
                "version": event.version,
                "reason": obligation.reason,
                "requires": sorted(stored_requires(obligation.requires)),
            },
        )
    )
    uow.notify("rotation.satisfied", webhook_data(obligation, uow.now()))
    return ObligationSatisfied(ref(obligation), event.version)


async def on_credential_left_custody(
    uow: UnitOfWork, event: CredentialLeftCustody
) -> ObligationWithdrawn | None:
    """Withdraw the obligation a hand-back leaves unsatisfiable (Décima novena), once."""
    obligation = await RotationRepository(uow).owed(event.account_id, lock=True)
    if obligation is None:
        return None
    now = uow.now()
    # owed() finds only an owed obligation: open or overdue, never ended.
    status = obligation_status(obligation.due_at, None, now)
    obligation.withdrawn_at = now
    obligation.withdrawn_reason = event.reason
    await uow.flush()
    uow.record(
        Entry(
            "rotation.withdrawn",
            "ok",
            account_id=event.account_id,
            subject=f"obligation:{obligation.id}",
            reason=event.reason,
            details={
                "obligation_id": obligation.id,
                "reason": obligation.reason,
                "due_at": rfc3339(obligation.due_at),
                "was": status,
            },
        )
    )
    uow.notify("rotation.withdrawn", webhook_data(obligation, now))
    return ObligationWithdrawn(ref(obligation))
