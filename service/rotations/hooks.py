"""What custody asks of rotations, inside custody's own transactions.

Credentials and checkouts call these; they never touch obligations directly.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Exists, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.audit.log import Entry, append
from service.clock import Clock, rfc3339
from service.db.models import RotationObligation
from service.domain.rotation import (
    WithdrawReason,
    is_satisfied_by,
    names_gestor,
    obligation_status,
)
from service.principal import Caller
from service.rotations.obligations import as_utc, locked_open, notify, still_owed
from service.vault.client import SecretVersion


async def open_obligation(session: AsyncSession, account_id: str) -> RotationObligation | None:
    """The account's open (or overdue) obligation, if any."""
    result = await session.scalars(
        select(RotationObligation)
        .where(RotationObligation.account_id == account_id)
        .where(still_owed())
    )
    return result.first()


def owes_rotation(account_id: Any) -> Exists:
    """SQL EXISTS: the account (a value or a column) owes a new password.

    For custody statements that read or write other rows in the same round trip.
    """
    return exists().where(RotationObligation.account_id == account_id, still_owed())


async def rotation_required(session: AsyncSession, account_id: str) -> bool:
    """True while the account owes a new password."""
    return bool(await session.scalar(select(owes_rotation(account_id))))


async def names_writer(
    session: AsyncSession, account_id: str, writer_gestor_id: str | None
) -> bool:
    """Whether the account's open obligation was opened by this gestor's leaving."""
    if writer_gestor_id is None:
        return False
    obligation = await open_obligation(session, account_id)
    return obligation is not None and names_gestor(obligation.origins, writer_gestor_id)


async def credential_written(
    session: AsyncSession,
    caller: Caller,
    clock: Clock,
    *,
    account_id: str,
    version: SecretVersion,
    password_changed: bool,
    writer_gestor_id: str | None = None,
    access_ended_during_write: bool = False,
) -> RotationObligation | None:
    """Satisfy the open obligation if this new version is the evidence it waits for.

    ``password_changed`` compares against the version current before this write,
    which is the version current at the trigger or a later one that did not
    itself satisfy the obligation; either way its password is the one to replace.
    ``writer_gestor_id`` is the gestor who chose the password (None for an admin
    or the system): an obligation opened by that gestor's leaving is not theirs
    to satisfy. ``access_ended_during_write``: the checkout it was written
    through closed before it was recorded.
    """
    obligation = await open_obligation(session, account_id)
    if obligation is None or not is_satisfied_by(
        as_utc(obligation.triggered_at),
        version.created_time,
        password_differs=password_changed,
        written_through_service=True,
        origins=obligation.origins,
        writer_gestor_id=writer_gestor_id,
        access_ended_during_write=access_ended_during_write,
    ):
        return None
    obligation.satisfied_at = clock.now()
    obligation.satisfied_by_version = version.version
    obligation.satisfied_by = caller.actor
    await append(
        session,
        caller,
        Entry(
            "rotation.satisfied",
            "ok",
            account_id=account_id,
            subject=f"obligation:{obligation.id}",
            details={"version": version.version, "reason": obligation.reason},
        ),
        clock,
    )
    await notify(session, clock, "rotation.satisfied", obligation)
    return obligation


async def account_left_custody(
    session: AsyncSession,
    caller: Caller,
    clock: Clock,
    *,
    account_id: str,
    reason: WithdrawReason = "left_custody",
) -> RotationObligation | None:
    """Withdraw the obligation a hand-back leaves unsatisfiable, in the hand-back's transaction.

    Nobody rotated: the password left the body's custody and its owner answers
    for it now (Décima novena). One event and one webhook, never repeated: a
    withdrawn obligation is no longer the account's open one.
    """
    obligation = await locked_open(session, account_id)
    if obligation is None:
        return None
    now = clock.now()
    # locked_open finds only an owed obligation: open or overdue, never ended.
    status = obligation_status(as_utc(obligation.due_at), None, now)
    obligation.withdrawn_at = now
    obligation.withdrawn_reason = reason
    await session.flush()
    await append(
        session,
        caller,
        Entry(
            "rotation.withdrawn",
            "ok",
            account_id=account_id,
            subject=f"obligation:{obligation.id}",
            reason=reason,
            details={
                "obligation_id": obligation.id,
                "reason": obligation.reason,
                "due_at": rfc3339(as_utc(obligation.due_at)),
                "was": status,
            },
        ),
        clock,
    )
    await notify(session, clock, "rotation.withdrawn", obligation)
    return obligation
