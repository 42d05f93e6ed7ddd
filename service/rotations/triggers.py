"""Open (or merge into) a rotation obligation for any trigger (Décima quinta).

Called inside the caller's transaction: the obligation, its audit event and its
webhook outbox row commit together with the change that caused them. An account
the body may not hold now, or whose credential was handed back (Décima novena),
gets none: ``fire`` answers None and writes nothing, and each caller reports only
the obligations it got.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from service.clock import Clock
from service.credentials.handback_queries import ever_handed_back, may_hold_now
from service.db.models import RotationObligation
from service.domain.triggers import Trigger, may_open_obligation
from service.principal import Caller
from service.rotations.obligations import open_or_merge
from service.settings import Settings


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
    may_hold = await may_hold_now(session, account_id, clock.now())
    handed_back = may_hold and await ever_handed_back(session, account_id)
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
