"""Legacy: what custody asked of rotations before events (service.rotations.handlers).

Credentials still calls these inside its own chain-locked transactions; each
goes once that feature publishes CredentialWritten / CredentialLeftCustody.
"""

from __future__ import annotations

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
from service.rotations.obligations import locked_open, notify
from service.rotations.repository import RotationRepository

# legacy: remove when checkouts and credentials import it from rotations.repository
from service.rotations.repository import owes_rotation as owes_rotation
from service.vault.client import SecretVersion


# legacy: remove when credentials moved
async def names_writer(
    session: AsyncSession, account_id: str, writer_gestor_id: str | None
) -> bool:
    """Whether the account's open obligation was opened by this gestor's leaving."""
    if writer_gestor_id is None:
        return False
    obligation = await RotationRepository(session).owed(account_id)
    return obligation is not None and names_gestor(obligation.origins, writer_gestor_id)


# legacy: remove when credentials and tests/rotation_helpers.py moved
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
    obligation = await RotationRepository(session).owed(account_id)
    if obligation is None or not is_satisfied_by(
        obligation.triggered_at,
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


# legacy: remove when credentials' hand-back moved
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
    status = obligation_status(obligation.due_at, None, now)
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
                "due_at": rfc3339(obligation.due_at),
                "was": status,
            },
        ),
        clock,
    )
    await notify(session, clock, "rotation.withdrawn", obligation)
    return obligation
