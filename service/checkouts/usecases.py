"""Check-in (with the rotation it may owe) and listing of checkouts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.audit.log import Entry, append
from service.checkouts import held, repository
from service.checkouts.expiry import close_expired, expire_checkouts
from service.checkouts.repository import CheckoutRepository
from service.clock import rfc3339
from service.credentials.schemas import CredentialIn
from service.credentials.usecases import write_credential
from service.db.models import Checkout
from service.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from service.principal import Caller
from service.rotations.obligations import as_utc, opt_utc
from service.runtime import Runtime
from service.vault.client import SecretVersion


def checkout_view(row: Checkout | Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "account_id": row.account_id,
        "gestor_id": row.gestor_id,
        "reason": row.reason,
        "granted_at": as_utc(row.granted_at),
        "expires_at": as_utc(row.expires_at),
        "rotation_required": row.rotation_required,
        "closed_at": opt_utc(row.closed_at),
        "close_reason": row.close_reason,
        "credential_version": row.credential_version,
    }


async def checkin(
    rt: Runtime,
    caller: Caller,
    checkout_id: str,
    new_credential: CredentialIn | None,
    conn: AsyncConnection | None = None,
) -> dict[str, Any]:
    """The holder returns the account; a new credential is mandatory while rotation is owed.

    ``conn``, when given, is this request's connection (closed here).
    """
    gestor_id = caller.principal.gestor_id if caller.principal else None
    now = rt.clock.now()
    error: DomainError | None = None
    # One connection, one transaction: the row locked, checked, and closed or refused.
    async with held.connection(rt, conn) as conn, held.transaction(rt, conn) as session:
        row = await repository.for_checkin(session, checkout_id)
        if row is None:
            error = NotFound(f"No checkout with id {checkout_id}")
        elif gestor_id is None or row.gestor_id != gestor_id:
            error = Forbidden("Only the gestor holding the checkout can check it in")
        elif row.closed_at is None and as_utc(row.expires_at) <= now:
            await close_expired(session, rt.clock, now, row.account_id)
            error = Conflict(f"The checkout expired at {rfc3339(as_utc(row.expires_at))}")
        elif row.closed_at is not None:
            error = Conflict(f"The checkout is already closed ({row.close_reason})")
        elif row.owes_rotation and new_credential is None:
            await append(
                session,
                caller,
                Entry(
                    "checkout.checkin_refused",
                    "denied",
                    account_id=row.account_id,
                    subject=f"checkout:{row.id}",
                    reason="rotation_required",
                ),
                rt.clock,
            )
            error = InvalidInput(
                "This account owes a rotation: send new_credential with a new password",
                field="new_credential",
            )
        elif new_credential is None:
            await repository.close(session, row.id, now, "checked_in")
            await _checked_in(rt, session, caller, row.account_id, row.id, None)
    if error is not None:
        raise error
    assert row is not None
    if new_credential is None:
        closed = {"closed_at": now, "close_reason": "checked_in"}
        return {**checkout_view(row), **closed, "new_version": None}

    async def close(session: AsyncSession, version: SecretVersion | None) -> None:
        await _close(rt, session, caller, checkout_id, version)

    version = await write_credential(
        rt,
        caller,
        row.account_id,
        new_credential,
        reason="rotation at check-in" if row.owes_rotation else "new credential at check-in",
        checkout_id=row.id,
        also=close,
    )
    async with rt.sessions() as session:
        back = await CheckoutRepository(session).get(checkout_id)
    assert back is not None
    return {**checkout_view(back), "new_version": version.version}


async def _checked_in(
    rt: Runtime,
    session: AsyncSession,
    caller: Caller,
    account_id: str,
    checkout_id: str,
    version: SecretVersion | None,
) -> None:
    await append(
        session,
        caller,
        Entry(
            "checkout.checked_in",
            "ok",
            account_id=account_id,
            subject=f"checkout:{checkout_id}",
            details={"new_version": version.version if version else None},
        ),
        rt.clock,
    )


async def _close(
    rt: Runtime,
    session: AsyncSession,
    caller: Caller,
    checkout_id: str,
    version: SecretVersion | None,
) -> None:
    row = await CheckoutRepository(session).get(checkout_id, lock=True)
    assert row is not None
    if row.closed_at is not None:
        # Closed meanwhile (expiry job, departure); a version just written stays recorded,
        # as no rotation (credentials' _record), and the answer's close_reason says why.
        if version is None:
            raise Conflict(f"The checkout is already closed ({row.close_reason})")
        return
    row.closed_at = rt.clock.now()
    row.close_reason = "checked_in"
    await session.flush()
    await _checked_in(rt, session, caller, row.account_id, row.id, version)


async def list_checkouts(
    rt: Runtime,
    *,
    active: bool | None,
    account_id: str | None,
    gestor_id: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    await expire_checkouts(rt)
    async with rt.sessions() as session:
        rows = await CheckoutRepository(session).search(
            active=active, account_id=account_id, gestor_id=gestor_id, limit=limit
        )
    return [checkout_view(r) for r in rows]
