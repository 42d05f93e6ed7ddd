"""Fail-closed retrieval: the committed checkout's secret, read through a child token."""

from __future__ import annotations

from typing import Any

from service.audit.log import Entry
from service.checkouts.repository import CheckoutRepository, NewCheckout
from service.checkouts.reveals import RevealRepository
from service.checkouts.schemas import Credential, Granted, PlatformTotp
from service.domain.exposure import codes_left
from service.domain.totp import platform_code
from service.errors import Conflict, DomainError, VaultUnavailable
from service.principal import Caller
from service.runtime import Runtime
from service.uow import Reader


async def release(rt: Runtime, caller: Caller, checkout: NewCheckout) -> Granted:
    """Read the granted version through a single-use child token; on any failure, nothing.

    No connection is held while Vault answers: the failure events and the
    still-open check each take their own short transaction.
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
        await _close_failed(rt, caller, checkout, "vault_error", type(exc).__name__)
        raise VaultUnavailable(
            "Vault failed; the checkout was closed and nothing was released"
        ) from None
    if found is None or found[1].version != granted:
        await _close_failed(rt, caller, checkout, "version_unavailable", "missing")
        raise Conflict(
            f"Version {granted} of the credential is no longer in Vault (deleted or "
            "destroyed); the checkout was closed and nothing was released"
        )
    data, version = found
    codes = data.get("backup_codes")
    count = len(codes) if isinstance(codes, list) and codes else None
    # A departure, unassignment, retirement or hand-back may have force-closed the
    # checkout while Vault answered: then its access ended, and nothing leaves.
    async with rt.reader() as reader:
        still = await CheckoutRepository(reader).open_state(checkout.id)
        left = None if count is None else await _codes_left(reader, checkout, count)
    if still is None or still.closed_at is not None:
        closed_by = still.close_reason if still is not None else None
        raise await _closed_meanwhile(rt, caller, checkout, closed_by)
    platform = None
    if data.get("totp_secret"):
        code, valid = platform_code(str(data["totp_secret"]), rt.clock.now())
        platform = PlatformTotp(code=code, valid_for_seconds=valid)
    return Granted(
        checkout_id=checkout.id,
        expires_at=checkout.expires_at,
        rotation_required=checkout.rotation_required,
        credential_version=version.version,
        credential=Credential(
            username=data.get("username"),
            password=data.get("password"),
            recovery_email=data.get("recovery_email"),
            recovery_phone=data.get("recovery_phone"),
            backup_codes_left=left,
        ),
        platform_totp=platform,
    )


async def _codes_left(reader: Reader, checkout: NewCheckout, count: int) -> int:
    """How many of the version's ``count`` backup codes are unrevealed (they leave one by one)."""
    reveals = RevealRepository(reader)
    since = await reveals.codes_since(checkout.account_id)
    if since is None or checkout.credential_version is None or since > checkout.credential_version:
        return 0  # replaced since the grant: none of this set will leave
    revealed = await reveals.revealed(checkout.account_id, since)
    return codes_left(count, revealed)


async def _closed_meanwhile(
    rt: Runtime, caller: Caller, checkout: NewCheckout, closed_by: str | None
) -> DomainError:
    """Audit the secret withheld from a checkout closed before its release; the 409."""
    await rt.record(caller, _failed(checkout, "closed_meanwhile", closed_by=closed_by))
    why = f" ({closed_by})" if closed_by else ""
    return Conflict(f"The checkout was closed{why} before its release; nothing was released")


async def _close_failed(
    rt: Runtime, caller: Caller, checkout: NewCheckout, close_reason: str, error_type: str
) -> None:
    """A new unit of work after Vault failed: close the checkout (if still open), audited."""
    async with rt.unit_of_work(caller) as uow:
        row = await CheckoutRepository(uow).get(checkout.id, lock=True)
        if row is not None and row.closed_at is None:
            row.closed_at = uow.now()
            row.close_reason = close_reason
            await uow.flush()
        uow.record(_failed(checkout, close_reason, error_type=error_type))


def _failed(checkout: NewCheckout, reason: str, **more: str | None) -> Entry:
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
