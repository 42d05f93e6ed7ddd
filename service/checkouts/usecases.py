"""Check-in (with the rotation it may owe) and listing of checkouts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Row

from service.audit.log import Entry
from service.checkouts.expiry import close_expired, expire_checkouts
from service.checkouts.repository import CheckoutRepository
from service.checkouts.schemas import CheckedIn, CheckoutOut
from service.clock import rfc3339
from service.credentials.schemas import CredentialIn
from service.credentials.usecases import write_credential
from service.db.models import Checkout
from service.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from service.principal import Caller
from service.runtime import Runtime
from service.uow import UnitOfWork
from service.vault.client import SecretVersion

log = structlog.get_logger("custodia.checkouts")
CHECKIN_IN_PROGRESS = "A check-in of this checkout is already in progress"


def checkout_out(row: Checkout | Row[Any]) -> CheckoutOut:
    return CheckoutOut(
        id=row.id,
        account_id=row.account_id,
        gestor_id=row.gestor_id,
        reason=row.reason,
        granted_at=row.granted_at,
        expires_at=row.expires_at,
        rotation_required=row.rotation_required,
        closed_at=row.closed_at,
        close_reason=row.close_reason,
        credential_version=row.credential_version,
    )


def _checked_in_out(
    row: Checkout | Row[Any], new_version: int | None, closed_at: datetime, close_reason: str
) -> CheckedIn:
    """The answer to a check-in: the checkout as closed, and the version written with it."""
    return CheckedIn(
        id=row.id,
        account_id=row.account_id,
        gestor_id=row.gestor_id,
        reason=row.reason,
        granted_at=row.granted_at,
        expires_at=row.expires_at,
        rotation_required=row.rotation_required,
        closed_at=closed_at,
        close_reason=close_reason,
        credential_version=row.credential_version,
        new_version=new_version,
    )


def _checked_in(account_id: str, checkout_id: str, new_version: int | None) -> Entry:
    return Entry(
        "checkout.checked_in",
        "ok",
        account_id=account_id,
        subject=f"checkout:{checkout_id}",
        details={"new_version": new_version},
    )


async def checkin(
    rt: Runtime, caller: Caller, checkout_id: str, new_credential: CredentialIn | None
) -> CheckedIn:
    """The holder returns the account; a new credential is mandatory while rotation is owed.

    A check-in with a new credential claims the checkout (committed) before Vault is
    written: of concurrent check-ins one writes a version, the others get 409 at once.
    """
    gestor_id = caller.principal.gestor_id if caller.principal else None
    now = rt.clock.now()
    error: DomainError | None = None
    # One transaction: the row locked, checked, and closed or refused.
    async with rt.unit_of_work(caller) as uow:
        repo = CheckoutRepository(uow)
        row = await repo.for_checkin(checkout_id)
        if row is None:
            error = NotFound(f"No checkout with id {checkout_id}")
        elif gestor_id is None or row.gestor_id != gestor_id:
            error = Forbidden("Only the gestor holding the checkout can check it in")
        elif row.closed_at is None and row.expires_at <= now:
            await close_expired(uow, now, row.account_id)
            error = Conflict(f"The checkout expired at {rfc3339(row.expires_at)}")
        elif row.closed_at is not None:
            error = Conflict(f"The checkout is already closed ({row.close_reason})")
        elif row.checkin_claimed_at is not None:
            error = Conflict(CHECKIN_IN_PROGRESS)
        elif row.owes_rotation and new_credential is None:
            uow.record(
                Entry(
                    "checkout.checkin_refused",
                    "denied",
                    account_id=row.account_id,
                    subject=f"checkout:{row.id}",
                    reason="rotation_required",
                )
            )
            error = InvalidInput(
                "This account owes a rotation: send new_credential with a new password",
                field="new_credential",
            )
        elif new_credential is None:
            await repo.close(row.id, now, "checked_in")
            uow.record(_checked_in(row.account_id, row.id, None))
        elif not await repo.claim_checkin(row.id, now):
            error = Conflict(CHECKIN_IN_PROGRESS)
    if error is not None:
        raise error
    assert row is not None
    if new_credential is None:
        return _checked_in_out(row, None, now, "checked_in")
    return await _checkin_with(rt, caller, row, new_credential)


async def _checkin_with(
    rt: Runtime, caller: Caller, row: Row[Any], new_credential: CredentialIn
) -> CheckedIn:
    """Write the new version (Vault first, no transaction open); its record closes the checkout."""
    closed: list[Checkout] = []

    async def close(uow: UnitOfWork, version: SecretVersion) -> None:
        closed.append(await _close(uow, row.id, version))

    try:
        version = await write_credential(
            rt,
            caller,
            row.account_id,
            new_credential,
            reason="rotation at check-in" if row.owes_rotation else "new credential at check-in",
            checkout_id=row.id,
            also=close,
        )
    except Exception:
        # The check-in did not record its version (one Vault kept is recorded by
        # recovery): give the claim back, so the gestor can check in again.
        await _release_claim(rt, caller, row.id)
        raise
    # The row as the version's transaction left it (locked there, so as committed);
    # closed by then, by this check-in or by whatever closed it meanwhile.
    back = closed[-1]
    assert back.closed_at is not None and back.close_reason is not None
    return _checked_in_out(back, version.version, back.closed_at, back.close_reason)


async def _release_claim(rt: Runtime, caller: Caller, checkout_id: str) -> None:
    """Give the check-in claim back after its write failed."""
    try:
        async with rt.unit_of_work(caller) as uow:
            await CheckoutRepository(uow).release_checkin(checkout_id)
    except Exception as exc:
        # The claim then stays until the checkout closes (expiry, departure); the
        # gestor sees the write's error, not this one.
        log.error("checkin_claim_kept", checkout_id=checkout_id, error_type=type(exc).__name__)


async def _close(uow: UnitOfWork, checkout_id: str, version: SecretVersion) -> Checkout:
    """In the transaction that records the version: close the checkout, audited; the row."""
    row = await CheckoutRepository(uow).get(checkout_id, lock=True)
    assert row is not None
    if row.closed_at is not None:
        # Closed meanwhile (expiry job, departure): the version just written stays
        # recorded, as no rotation (credentials), and the answer's close_reason says why.
        return row
    row.closed_at = uow.now()
    row.close_reason = "checked_in"
    await uow.flush()
    uow.record(_checked_in(row.account_id, row.id, version.version))
    return row


async def list_checkouts(
    rt: Runtime,
    *,
    active: bool | None,
    account_id: str | None,
    gestor_id: str | None,
    limit: int,
) -> list[CheckoutOut]:
    await expire_checkouts(rt)
    async with rt.reader() as reader:
        rows = await CheckoutRepository(reader).search(
            active=active, account_id=account_id, gestor_id=gestor_id, limit=limit
        )
    return [checkout_out(r) for r in rows]
