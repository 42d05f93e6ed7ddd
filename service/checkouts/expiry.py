"""Expired checkouts close by themselves: lazily on the paths that meet them, and by a job."""

from __future__ import annotations

from datetime import datetime

from service.audit.log import Entry
from service.checkouts.repository import CheckoutRepository
from service.clock import rfc3339
from service.principal import SYSTEM
from service.runtime import Runtime
from service.uow import UnitOfWork

JOB_INTERVAL_SECONDS = 30.0


async def expire_checkouts(rt: Runtime, account_id: str | None = None) -> list[str]:
    """Close every open checkout past its expiry (of one account, or all); audited."""
    now = rt.clock.now()
    # A read first: on SQLite every write transaction takes the write lock.
    async with rt.reader() as reader:
        if not await CheckoutRepository(reader).any_expired_open(now, account_id):
            return []
    async with rt.unit_of_work(SYSTEM) as uow:
        return await close_expired(uow, now, account_id)


async def close_expired(uow: UnitOfWork, now: datetime, account_id: str | None = None) -> list[str]:
    """Inside the caller's unit of work: close what expired by ``now``, one event each."""
    closed: list[str] = []
    for row in await CheckoutRepository(uow).expired_open(now, account_id):
        # It ended when it expired, whenever we notice.
        row.closed_at = row.expires_at
        row.close_reason = "expired"
        closed.append(row.id)
        uow.record(
            Entry(
                "checkout.expired",
                "ok",
                account_id=row.account_id,
                subject=f"checkout:{row.id}",
                reason="expired",
                details={"gestor_id": row.gestor_id, "expires_at": rfc3339(row.expires_at)},
            ),
            caller=SYSTEM,
        )
    if closed:
        await uow.flush()
    return closed


async def expiry_round(rt: Runtime) -> float:
    """Periodic job: close what expired since the last round."""
    await expire_checkouts(rt)
    return JOB_INTERVAL_SECONDS
