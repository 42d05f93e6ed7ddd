"""Legacy: open (or merge into) a rotation obligation inside a chain-locked transaction.

The new way is ``await uow.publish(RotationTriggered(account_id, trigger))``
(service.rotations.handlers). An account the body may not hold now, or whose
credential was handed back (Décima novena), gets none: ``fire`` answers None
and writes nothing, and each caller reports only the obligations it got.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from service.clock import Clock
from service.db.models import RotationObligation
from service.domain.triggers import Trigger, may_open_obligation
from service.principal import Caller
from service.rotations.obligations import open_or_merge
from service.rotations.repository import RotationRepository
from service.settings import Settings


# legacy: remove when gestores, handovers and tests/test_rotations.py moved
async def fire(
    session: AsyncSession,
    caller: Caller,
    clock: Clock,
    settings: Settings,
    *,
    account_id: str,
    trigger: Trigger,
) -> RotationObligation | None:
    """The account's obligation after this trigger, or None when it left custody.

    The account row and the hand-back's event are read in the caller's
    transaction, which holds the audit chain lock: a change of the account or a
    hand-back either committed before (seen here) or runs after; a term that
    ends after this opened is the hand-back job's, which withdraws what it owes.
    """
    repo = RotationRepository(session)
    # No row lock: the chain lock serialises these callers, and a row lock taken
    # after it could wait on a unit of work that waits for the chain lock.
    may_hold = await repo.may_hold_now(account_id, clock.now(), lock=False)
    handed_back = may_hold and await repo.ever_handed_back(account_id)
    if not may_open_obligation(handed_back=handed_back, may_hold=may_hold):
        return None
    row, _ = await open_or_merge(
        session,
        caller,
        clock,
        settings,
        account_id=account_id,
        reason=trigger.reason,
        origin=trigger.origin,
        triggered_at=trigger.triggered_at,
        note=trigger.note,
    )
    return row
