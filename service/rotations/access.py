"""Legacy: ending access at once by force-closing checkouts, in a chain-locked transaction.

The new way is ``await uow.publish(AccessEnded(...))`` (service.checkouts.handlers).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.audit.log import Entry, append
from service.clock import Clock
from service.db.models import Checkout
from service.principal import Caller


# legacy: remove when accounts, gestores, handovers, credentials and test_checkout_races moved
async def force_close_checkouts(
    session: AsyncSession,
    caller: Caller,
    clock: Clock,
    *,
    close_reason: str,
    gestor_id: str | None = None,
    account_ids: list[str] | None = None,
) -> list[str]:
    """Close the active checkouts of a gestor or of some accounts; each is audited.

    The transaction holds the chain lock: a grant re-checks access under the same
    lock, so either this query sees its checkout or the grant sees access ended.
    """
    query = select(Checkout).where(Checkout.closed_at.is_(None)).with_for_update(key_share=True)
    if gestor_id is not None:
        query = query.where(Checkout.gestor_id == gestor_id)
    if account_ids is not None:
        query = query.where(Checkout.account_id.in_(account_ids))
    now = clock.now()
    closed: list[str] = []
    for checkout in await session.scalars(query.order_by(Checkout.granted_at)):
        checkout.closed_at = now
        checkout.close_reason = close_reason
        closed.append(checkout.id)
        await append(
            session,
            caller,
            Entry(
                "checkout.force_closed",
                "ok",
                account_id=checkout.account_id,
                subject=f"checkout:{checkout.id}",
                reason=close_reason,
                details={"gestor_id": checkout.gestor_id},
            ),
            clock,
        )
    await session.flush()
    return closed
