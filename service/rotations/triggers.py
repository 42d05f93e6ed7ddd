"""Open (or merge into) a rotation obligation for any trigger (Décima quinta).

Called inside the caller's transaction: the obligation, its audit event and its
webhook outbox row commit together with the change that caused them.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from service.clock import Clock
from service.db.models import RotationObligation
from service.domain.triggers import Trigger
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
) -> RotationObligation:
    """The account's obligation after this trigger: a new one, or its open one merged."""
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
