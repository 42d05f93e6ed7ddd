"""How checkouts react to other features' events, inside the publisher's unit of work."""

from __future__ import annotations

from service.audit.log import Entry
from service.checkouts.expiry import close_expired
from service.checkouts.repository import CheckoutRepository
from service.domain.events import AccessEnded, CheckoutAsked, CheckoutFacts, CheckoutsClosed
from service.uow import UnitOfWork


async def on_access_ended(uow: UnitOfWork, event: AccessEnded) -> CheckoutsClosed:
    """Force-close the open checkouts of the gestor, or of the accounts; each is audited.

    The rows are locked: a grant re-reads access after locking the gestor and the
    account, and whoever ends access locks one of them first, so either this
    query sees the new checkout or the grant sees access ended.
    """
    now = uow.now()
    if event.expired_first:
        for account_id in event.account_ids or ():
            await close_expired(uow, now, account_id)
    closed: list[str] = []
    for checkout in await CheckoutRepository(uow).open_to_close(event.gestor_id, event.account_ids):
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
    repo = CheckoutRepository(uow)
    if event.checkout_id is not None:
        row = await repo.get(event.checkout_id, lock=event.lock)
    elif event.account_id is not None and event.gestor_id is not None:
        row = await repo.live_of(event.account_id, event.gestor_id, uow.now(), lock=event.lock)
    else:
        row = None
    if row is None:
        return None
    return CheckoutFacts(row.id, row.gestor_id, row.closed_at, row.close_reason)
