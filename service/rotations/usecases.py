"""Reading obligations, opening one by hand, and the periodic max-age and overdue rounds.

No use case here (or anywhere) marks an obligation satisfied: only
handlers.on_credential_written does, on evidence from Vault.
"""

from __future__ import annotations

from service.audit.log import Entry
from service.clock import rfc3339
from service.domain.events import ObligationRef, RotationTriggered
from service.domain.rotation import (
    ROTATION_STATUSES,
    CredentialAge,
    DeadlinePolicy,
    RotationStatus,
    max_age_scan,
)
from service.domain.triggers import Trigger
from service.errors import Conflict, NotFound
from service.principal import SYSTEM, Caller
from service.rotations.obligations import obligation_out, webhook_data
from service.rotations.repository import RotationRepository
from service.rotations.schemas import ObligationOut, SummaryCounts, SummaryOut
from service.runtime import Runtime


async def list_obligations(
    rt: Runtime,
    *,
    status: RotationStatus | None,
    account_id: str | None,
    reason: str | None,
    limit: int,
) -> list[ObligationOut]:
    async with rt.reader() as r:
        now = r.now()
        rows = await RotationRepository(r).search(
            now, status=status, account_id=account_id, reason=reason, limit=limit
        )
    return [obligation_out(row, now) for row in rows]


async def get_obligation(rt: Runtime, obligation_id: str) -> ObligationOut:
    async with rt.reader() as r:
        row = await RotationRepository(r).get(obligation_id)
    if row is None:
        raise NotFound(f"No rotation obligation with id {obligation_id}")
    return obligation_out(row, rt.clock.now())


async def summary(rt: Runtime) -> SummaryOut:
    """Counts by status (computed now) and the obligation overdue the longest."""
    async with rt.reader() as r:
        now = r.now()
        repo = RotationRepository(r)
        counts = {s: await repo.count(now, s) for s in ROTATION_STATUSES}
        oldest = await repo.oldest_overdue(now)
    return SummaryOut(
        counts=SummaryCounts(**counts),
        oldest_overdue=obligation_out(oldest, now) if oldest else None,
    )


async def open_manual(
    rt: Runtime, caller: Caller, *, account_id: str, reason: str
) -> ObligationOut:
    """An admin's obligation; merged into the account's open one; 409 once handed back."""
    async with rt.unit_of_work(caller) as uow:
        repo = RotationRepository(uow)
        state = await repo.account_state(account_id)
        if state == "missing":
            raise NotFound(f"No account with id {account_id}")
        if state == "retired":
            raise Conflict("The account is retired; it has no credential to rotate")
        trigger = Trigger.manual(caller.actor, reason)
        answers = await uow.publish(RotationTriggered(account_id, trigger))
        ref = next((a for a in answers if isinstance(a, ObligationRef)), None)
        if ref is None:
            # Raised inside the unit of work: nothing was written, nothing commits.
            raise Conflict(
                "This account's password left custody, or may not be held (Décima "
                "novena): it was handed back, or the owner's term ended, or no área "
                "manages the account; no new version can be written, so a rotation "
                "obligation could never be satisfied",
                numerals=["Décima novena"],
            )
        row = await repo.get(ref.id)
        assert row is not None  # the handler just opened or merged it
        return obligation_out(row, uow.now())


async def scan_max_age(rt: Runtime, caller: Caller = SYSTEM) -> int:
    """Open max_age obligations for credentials past the maximum age; return how many.

    Idempotent: an account that already owes a rotation is skipped by the rule.
    A handed-back account is not counted (it has no credential age anyway).
    """
    policy = DeadlinePolicy.from_settings(rt.settings)
    async with rt.unit_of_work(caller) as uow:
        ages = await RotationRepository(uow).credential_ages()
        versions = {account: version for account, _, version, _ in ages}
        findings = max_age_scan(
            [CredentialAge(a, created, owes) for a, created, _, owes in ages],
            uow.now(),
            policy,
        )
        opened = 0
        for finding in findings:
            trigger = Trigger.max_age_reached(
                versions[finding.account_id], reached_at=finding.reached_at
            )
            answers = await uow.publish(RotationTriggered(finding.account_id, trigger))
            opened += any(isinstance(a, ObligationRef) for a in answers)
    return opened


async def notify_overdue(rt: Runtime) -> int:
    """Record and announce, once each, obligations that passed their deadline."""
    now = rt.clock.now()
    async with rt.reader() as r:
        ids = await RotationRepository(r).overdue_unnotified(now)
    notified = 0
    for obligation_id in ids:
        async with rt.unit_of_work(SYSTEM) as uow:
            row = await RotationRepository(uow).claim_overdue_notice(obligation_id, now)
            if row is None:
                continue
            uow.record(
                Entry(
                    "rotation.overdue",
                    "ok",
                    account_id=row.account_id,
                    subject=f"obligation:{row.id}",
                    details={"reason": row.reason, "due_at": rfc3339(row.due_at)},
                )
            )
            uow.notify("rotation.overdue", webhook_data(row, uow.now()))
            notified += 1
    return notified
