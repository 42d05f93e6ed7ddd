"""Expired checkouts close by themselves: lazily on the paths that meet them, and by a job."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.audit.log import Entry, append
from service.checkouts.repository import CheckoutRepository
from service.clock import Clock, rfc3339
from service.db.models import Checkout
from service.principal import SYSTEM
from service.rotations.obligations import as_utc
from service.runtime import Runtime

JOB_INTERVAL_SECONDS = 30.0


async def expire_checkouts(rt: Runtime, account_id: str | None = None) -> list[str]:
    """Close every open checkout past its expiry (of one account, or all); audited."""
    now = rt.clock.now()
    probe = select(Checkout.id).where(Checkout.closed_at.is_(None), Checkout.expires_at <= now)
    if account_id is not None:
        probe = probe.where(Checkout.account_id == account_id)
    # A read first: on SQLite every transaction takes the write lock.
    async with rt.sessions() as session:
        if (await session.scalars(probe.limit(1))).first() is None:
            return []
    async with rt.transaction() as session:
        return await close_expired(session, rt.clock, now, account_id)


async def close_expired(
    session: AsyncSession, clock: Clock, now: datetime, account_id: str | None = None
) -> list[str]:
    """Inside the caller's transaction: close what expired by ``now``, one event each."""
    closed: list[str] = []
    for row in await CheckoutRepository(session).expired_open(now, account_id):
        # It ended when it expired, whenever we notice.
        row.closed_at = row.expires_at
        row.close_reason = "expired"
        closed.append(row.id)
        await session.flush()
        await append(
            session,
            SYSTEM,
            Entry(
                "checkout.expired",
                "ok",
                account_id=row.account_id,
                subject=f"checkout:{row.id}",
                reason="expired",
                details={
                    "gestor_id": row.gestor_id,
                    "expires_at": rfc3339(as_utc(row.expires_at)),
                },
            ),
            clock,
        )
    return closed


async def expiry_round(rt: Runtime) -> float:
    """Periodic job: close what expired since the last round."""
    await expire_checkouts(rt)
    return JOB_INTERVAL_SECONDS
