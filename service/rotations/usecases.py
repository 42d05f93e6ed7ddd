"""Reading obligations, opening one by hand, and the periodic max-age and overdue rounds.

No use case here (or anywhere) marks an obligation satisfied: only
hooks.credential_written does, on evidence from Vault.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from service.audit.log import Entry, append
from service.db.models import Account, RotationObligation
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
from service.rotations import triggers
from service.rotations.obligations import notify, obligation_view, opt_utc, still_owed
from service.rotations.repository import RotationRepository
from service.runtime import Runtime


async def list_obligations(
    rt: Runtime,
    *,
    status: RotationStatus | None,
    account_id: str | None,
    reason: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    now = rt.clock.now()
    async with rt.sessions() as session:
        rows = await RotationRepository(session).search(
            now, status=status, account_id=account_id, reason=reason, limit=limit
        )
    return [obligation_view(r, now) for r in rows]


async def get_obligation(rt: Runtime, obligation_id: str) -> dict[str, Any]:
    async with rt.sessions() as session:
        row = await RotationRepository(session).get(obligation_id)
    if row is None:
        raise NotFound(f"No rotation obligation with id {obligation_id}")
    return obligation_view(row, rt.clock.now())


async def summary(rt: Runtime) -> dict[str, Any]:
    """Counts by status (computed now) and the obligation overdue the longest."""
    now = rt.clock.now()
    async with rt.sessions() as session:
        repo = RotationRepository(session)
        counts = {s: await repo.count(now, s) for s in ROTATION_STATUSES}
        oldest = await repo.oldest_overdue(now)
    return {
        "counts": counts,
        "oldest_overdue": obligation_view(oldest, now) if oldest else None,
    }


async def open_manual(
    rt: Runtime, caller: Caller, *, account_id: str, reason: str
) -> dict[str, Any]:
    """An admin's obligation; merged into the account's open one; 409 once handed back."""
    async with rt.transaction() as session:
        account = await session.get(Account, account_id)
        if account is None:
            raise NotFound(f"No account with id {account_id}")
        if account.retired_at is not None:
            raise Conflict("The account is retired; it has no credential to rotate")
        row = await triggers.fire(
            session,
            caller,
            rt.clock,
            rt.settings,
            account_id=account_id,
            trigger=Trigger.manual(caller.actor, reason),
        )
        if row is None:
            # Raised inside the transaction: nothing was written, nothing commits.
            raise Conflict(
                "This account's password left custody, or may not be held (Décima "
                "novena): it was handed back, or the owner's term ended, or no área "
                "manages the account; no new version can be written, so a rotation "
                "obligation could never be satisfied",
                numerals=["Décima novena"],
            )
        return obligation_view(row, rt.clock.now())


async def scan_max_age(rt: Runtime, caller: Caller = SYSTEM) -> int:
    """Open max_age obligations for credentials past the maximum age; return how many.

    Idempotent: an account that already owes a rotation is skipped by the rule.
    A handed-back account is not counted (it has no credential age anyway).
    """
    policy = DeadlinePolicy.from_settings(rt.settings)
    async with rt.transaction() as session:
        ages = await RotationRepository(session).credential_ages()
        versions = {account: version for account, _, version, _ in ages}
        findings = max_age_scan(
            [CredentialAge(a, opt_utc(created), owes) for a, created, _, owes in ages],
            rt.clock.now(),
            policy,
        )
        opened = 0
        for finding in findings:
            version = versions[finding.account_id]
            row = await triggers.fire(
                session,
                caller,
                rt.clock,
                rt.settings,
                account_id=finding.account_id,
                trigger=Trigger.max_age_reached(version, reached_at=finding.reached_at),
            )
            opened += row is not None
    return opened


async def notify_overdue(rt: Runtime) -> int:
    """Record and announce, once each, obligations that passed their deadline."""
    now = rt.clock.now()
    async with rt.sessions() as session:
        ids = await RotationRepository(session).overdue_unnotified(now)
    notified = 0
    for obligation_id in ids:
        async with rt.transaction() as session:
            # The conditional update makes the notice once-only across replicas.
            claimed = await session.execute(
                update(RotationObligation)
                .where(RotationObligation.id == obligation_id)
                .where(RotationObligation.overdue_notified_at.is_(None))
                .where(still_owed())
                .values(overdue_notified_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue
            row = await session.get(RotationObligation, obligation_id)
            assert row is not None
            await append(
                session,
                SYSTEM,
                Entry(
                    "rotation.overdue",
                    "ok",
                    account_id=row.account_id,
                    subject=f"obligation:{row.id}",
                    details={"reason": row.reason, "due_at": obligation_view(row, now)["due_at"]},
                ),
                rt.clock,
            )
            await notify(session, rt.clock, "rotation.overdue", row)
            notified += 1
    return notified
