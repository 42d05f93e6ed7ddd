"""Fail-closed retrieval: the committed checkout's secret, read through a child token."""

from __future__ import annotations

from typing import Any

from service.audit.log import Entry, append
from service.checkouts.repository import CheckoutRepository
from service.db.models import Checkout
from service.domain.totp import platform_code
from service.errors import Conflict, VaultUnavailable
from service.principal import Caller
from service.runtime import Runtime


async def release(rt: Runtime, caller: Caller, checkout: Checkout) -> dict[str, Any]:
    """Read through the single-use child token; on any failure close and release nothing."""
    metadata = {
        "gestor_id": checkout.gestor_id,
        "account_id": checkout.account_id,
        "checkout_id": checkout.id,
    }
    try:
        found = await rt.vault.checkout_read(checkout.account_id, metadata=metadata)
    except Exception as exc:  # whatever went wrong, no secret leaves
        await _close_failed(rt, caller, checkout, "vault_error", type(exc).__name__)
        raise VaultUnavailable(
            "Vault failed; the checkout was closed and nothing was released"
        ) from None
    if found is None:
        await _close_failed(rt, caller, checkout, "no_credential", "missing")
        raise Conflict("The account has no credential in Vault; the checkout was closed")
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


async def _close_failed(
    rt: Runtime, caller: Caller, checkout: Checkout, close_reason: str, error_type: str
) -> None:
    async with rt.transaction() as session:
        row = await CheckoutRepository(session).get(checkout.id, lock=True)
        if row is not None and row.closed_at is None:
            row.closed_at = rt.clock.now()
            row.close_reason = close_reason
        await session.flush()
        await append(
            session,
            caller,
            Entry(
                "checkout.failed",
                "error",
                account_id=checkout.account_id,
                subject=f"checkout:{checkout.id}",
                reason=close_reason,
                details={"error_type": error_type},
            ),
            rt.clock,
        )
