"""The obligation's public shape (API and webhooks), and the legacy open-or-merge."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from service.audit.log import Entry, append
from service.clock import Clock, rfc3339
from service.db.models import RotationObligation
from service.domain.rotation import (
    DeadlinePolicy,
    ObligationTerms,
    Origin,
    RotationReason,
    merge_trigger,
    new_obligation,
    obligation_status,
)
from service.principal import Caller
from service.rotations.repository import RotationRepository

# legacy: remove when documents imports still_owed from rotations.repository
from service.rotations.repository import still_owed as still_owed
from service.rotations.schemas import ObligationOut, OriginOut
from service.settings import Settings
from service.webhooks.outbox import enqueue


# legacy: remove when no feature imports as_utc (the lead deletes it after the merge)
def as_utc(value: datetime) -> datetime:
    """SQLite hands timestamps back naive; every one we store is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# legacy: remove when no feature imports opt_utc (the lead deletes it after the merge)
def opt_utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def _ts(value: datetime | None) -> str | None:
    return None if value is None else rfc3339(value)


def obligation_out(row: RotationObligation, now: datetime) -> ObligationOut:
    """The obligation as the API and webhooks show it; status derived from the clock."""
    return ObligationOut(
        id=row.id,
        account_id=row.account_id,
        reason=row.reason,
        triggered_by=row.triggered_by,
        triggered_at=rfc3339(row.triggered_at),
        due_at=rfc3339(row.due_at),
        status=obligation_status(row.due_at, row.satisfied_at, now, row.withdrawn_at),
        satisfied_at=_ts(row.satisfied_at),
        satisfied_by_version=row.satisfied_by_version,
        satisfied_by=row.satisfied_by,
        withdrawn_at=_ts(row.withdrawn_at),
        withdrawn_reason=row.withdrawn_reason,
        origins=[OriginOut(o["type"], o["id"], o["reason"]) for o in row.origins],
    )


def webhook_data(row: RotationObligation, now: datetime) -> dict[str, Any]:
    """A rotation webhook's ``data``: the obligation as the API shows it."""
    return {"obligation": msgspec.to_builtins(obligation_out(row, now))}


# legacy: remove when credentials, gestores and handovers moved
async def notify(session: AsyncSession, clock: Clock, kind: str, row: RotationObligation) -> None:
    """Outbox row for a webhook, in the same transaction as the change it reports."""
    await enqueue(session, clock, kind, webhook_data(row, clock.now()))


# legacy: remove when credentials' hand-back moved
async def locked_open(session: AsyncSession, account_id: str) -> RotationObligation | None:
    """The account's owed obligation, row-locked on PostgreSQL so merges never race."""
    return await RotationRepository(session).owed(account_id, lock=True)


# legacy: remove when gestores and handovers moved (the new one: handlers.open_or_merge)
async def open_or_merge(
    session: AsyncSession,
    caller: Caller,
    clock: Clock,
    settings: Settings,
    *,
    account_id: str,
    reason: RotationReason,
    origin: Origin,
    triggered_at: datetime | None = None,
    note: str | None = None,
) -> tuple[RotationObligation, bool]:
    """Open an obligation for the account, or fold this trigger into its open one.

    Returns the obligation and whether anything changed. ``triggered_at`` defaults
    to now; for max_age it is the moment the age was reached.
    """
    policy = DeadlinePolicy.from_settings(settings)
    at = triggered_at or clock.now()
    repo = RotationRepository(session)
    existing = await repo.owed(account_id, lock=True)
    if existing is None:
        terms = new_obligation(reason, at, origin, policy)
        row = RotationObligation(
            id=str(uuid.uuid4()),
            account_id=account_id,
            reason=terms.reason,
            triggered_by=caller.actor,
            triggered_at=terms.triggered_at,
            due_at=terms.due_at,
            origins=list(terms.origins),
        )
        existing = await repo.add_unless_owed(row)
        if existing is None:
            await _audit(session, caller, clock, "rotation.opened", row, reason, origin, note)
            await notify(session, clock, "rotation.opened", row)
            return row, True
    current = ObligationTerms(
        existing.reason,  # type: ignore[arg-type]
        existing.triggered_at,
        existing.due_at,
        tuple(existing.origins),
    )
    merged = merge_trigger(current, reason, at, origin, policy)
    if merged == current:
        return existing, False
    existing.due_at = merged.due_at
    existing.origins = list(merged.origins)
    await session.flush()
    await _audit(session, caller, clock, "rotation.merged", existing, reason, origin, note)
    await notify(session, clock, "rotation.merged", existing)
    return existing, True


async def _audit(
    session: AsyncSession,
    caller: Caller,
    clock: Clock,
    action: str,
    row: RotationObligation,
    reason: RotationReason,
    origin: Origin,
    note: str | None,
) -> None:
    await append(
        session,
        caller,
        Entry(
            action,
            "ok",
            account_id=row.account_id,
            subject=f"obligation:{row.id}",
            reason=note,
            details={
                "trigger": reason,
                "origin": origin,
                "due_at": rfc3339(row.due_at),
                "origins": len(row.origins),
            },
        ),
        clock,
    )
