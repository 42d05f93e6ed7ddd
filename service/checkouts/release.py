"""Fail-closed retrieval: the committed checkout's secret, read through a child token."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from service.audit.log import Entry, append
from service.checkouts import held, repository
from service.checkouts.repository import CheckoutRepository
from service.db.models import Checkout
from service.domain.totp import platform_code
from service.errors import Conflict, DomainError, VaultUnavailable
from service.principal import Caller
from service.runtime import Runtime


async def release(
    rt: Runtime, caller: Caller, checkout: Checkout, conn: AsyncConnection
) -> dict[str, Any]:
    """Read the granted version through a single-use child token; on any failure, nothing.

    ``conn`` is the request's connection, idle: the failure events and the
    still-open check run on it.
    """
    metadata = {
        "gestor_id": checkout.gestor_id,
        "account_id": checkout.account_id,
        "checkout_id": checkout.id,
    }
    granted = checkout.credential_version
    try:
        # Pinned: a version written after the grant (say, the rotation after an
        # unassignment) is not what the committed checkout.granted event names.
        found = await rt.vault.checkout_read(
            checkout.account_id, metadata=metadata, version=granted
        )
    except Exception as exc:  # whatever went wrong, no secret leaves
        await _close_failed(rt, conn, caller, checkout, "vault_error", type(exc).__name__)
        raise VaultUnavailable(
            "Vault failed; the checkout was closed and nothing was released"
        ) from None
    if found is None or found[1].version != granted:
        await _close_failed(rt, conn, caller, checkout, "version_unavailable", "missing")
        raise Conflict(
            f"Version {granted} of the credential is no longer in Vault (deleted or "
            "destroyed); the checkout was closed and nothing was released"
        )
    # A departure, unassignment, retirement or hand-back may have force-closed the
    # checkout while Vault answered: then its access ended, and nothing leaves.
    still = await repository.open_state(conn, checkout.id)
    if still is None or still.closed_at is not None:
        closed_by = still.close_reason if still is not None else None
        raise await _closed_meanwhile(rt, conn, caller, checkout, closed_by)
    data, version = found
    platform = None
    if data.get("totp_secret"):
        code, valid = platform_code(str(data["totp_secret"]), rt.clock.now())
        platform = {"code": code, "valid_for_seconds": valid}
    return {
        "checkout_id": checkout.id,
        "expires_at": checkout.expires_at,
        "rotation_required": checkout.rotation_required,
        "credential_version": version.version,
        "credential": {
            "username": data.get("username"),
            "password": data.get("password"),
            "recovery_email": data.get("recovery_email"),
            "recovery_phone": data.get("recovery_phone"),
            "backup_codes": data.get("backup_codes"),
        },
        "platform_totp": platform,
    }


async def _closed_meanwhile(
    rt: Runtime, conn: AsyncConnection, caller: Caller, checkout: Checkout, closed_by: str | None
) -> DomainError:
    """Audit the secret withheld from a checkout closed before its release; the 409."""
    async with held.transaction(rt, conn) as session:
        entry = _failed(checkout, "closed_meanwhile", closed_by=closed_by)
        await append(session, caller, entry, rt.clock)
    why = f" ({closed_by})" if closed_by else ""
    return Conflict(f"The checkout was closed{why} before its release; nothing was released")


async def _close_failed(
    rt: Runtime,
    conn: AsyncConnection,
    caller: Caller,
    checkout: Checkout,
    close_reason: str,
    error_type: str,
) -> None:
    async with held.transaction(rt, conn) as session:
        row = await CheckoutRepository(session).get(checkout.id, lock=True)
        if row is not None and row.closed_at is None:
            row.closed_at = rt.clock.now()
            row.close_reason = close_reason
        await session.flush()
        entry = _failed(checkout, close_reason, error_type=error_type)
        await append(session, caller, entry, rt.clock)


def _failed(checkout: Checkout, reason: str, **more: str | None) -> Entry:
    """The ``checkout.failed`` event: the version granted, and why nothing left."""
    details: dict[str, Any] = {"credential_version": checkout.credential_version}
    details.update({key: value for key, value in more.items() if value is not None})
    return Entry(
        "checkout.failed",
        "error",
        account_id=checkout.account_id,
        subject=f"checkout:{checkout.id}",
        reason=reason,
        details=details,
    )
