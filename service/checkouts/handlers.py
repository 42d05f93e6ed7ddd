"""How checkouts react to other features' events, inside the publisher's unit of work."""

from __future__ import annotations

from sqlalchemy import select

from service.audit.log import Entry
from service.db.models import Checkout
from service.domain.events import AccessEnded, CheckoutAsked, CheckoutFacts, CheckoutsClosed
from service.uow import UnitOfWork


async def on_access_ended(uow: UnitOfWork, event: AccessEnded) -> CheckoutsClosed:
    """Force-close the open checkouts of the gestor, or of the accounts; each is audited.

    The rows are locked: a grant re-reads access after locking the gestor and the
    account, and whoever ends access locks one of them first, so either this
    query sees the new checkout or the grant sees access ended.
    """
    query = select(Checkout).where(Checkout.closed_at.is_(None)).with_for_update(key_share=True)
    if event.gestor_id is not None:
        query = query.where(Checkout.gestor_id == event.gestor_id)
    if event.account_ids is not None:
        query = query.where(Checkout.account_id.in_(event.account_ids))
    now = uow.now()
    closed: list[str] = []
    for checkout in await uow.session.scalars(query.order_by(Checkout.granted_at)):
        checkout.closed_at = now
        checkout.close_reason = event.close_reason
        closed.append(checkout.id)
        uow.record(
            Entry(
                "checkout.force_closed",
                "ok",
                account_id=checkout.account_id,
                subject=f"checkout:{checkout.id}",
                reason=event.close_reason,
                details={"gestor_id": checkout.gestor_id},
            )
        )
    await uow.flush()
    return CheckoutsClosed(tuple(closed))


async def on_checkout_asked(uow: UnitOfWork, event: CheckoutAsked) -> CheckoutFacts | None:
    """Answer credentials: one checkout by id (locked if asked), or a gestor's live one."""
    query = select(Checkout)
    if event.checkout_id is not None:
        query = query.where(Checkout.id == event.checkout_id)
    else:
        query = query.where(
            Checkout.account_id == event.account_id,
            Checkout.gestor_id == event.gestor_id,
            Checkout.closed_at.is_(None),
            Checkout.expires_at > uow.now(),
        )
    if event.lock:
        query = query.with_for_update(key_share=True)
    row = (await uow.session.scalars(query)).first()
    if row is None:
        return None
    return CheckoutFacts(row.id, row.gestor_id, row.closed_at, row.close_reason)
