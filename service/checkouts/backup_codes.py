"""Backup codes leave one at a time: the holder asks, with a reason, and the event goes first.

Order: the checkout is read (the caller holds it, open, unexpired, its set of
codes not replaced since the grant); Vault is read through a single-use child
token whose metadata names the checkout, as for the grant, with no transaction
open; then one unit of work locks the checkout row, checks it is still open,
picks the lowest index of the set not revealed yet and commits the
``checkout.backup_code_revealed`` event (checkout, version, index; never the
code). Only then does the code leave. A departure, unassignment or expiry that
closed the checkout meanwhile releases nothing; one that locks the row after
this commit finds the reveal and owes new codes.
"""

from __future__ import annotations

from typing import Any

from service.audit.log import Entry
from service.checkouts.expiry import close_expired, expire_checkouts
from service.checkouts.repository import CheckoutRepository
from service.checkouts.reveals import RevealRepository
from service.checkouts.schemas import BackupCode
from service.clock import rfc3339
from service.db.models import Checkout
from service.domain.exposure import (
    BACKUP_CODE_REVEALED,
    codes_left,
    next_unused_code,
    reveal_details,
)
from service.errors import Conflict, DomainError, Forbidden, NotFound, VaultUnavailable
from service.principal import Caller
from service.runtime import Runtime
from service.uow import UnitOfWork


def _event(row: Checkout, outcome: str, reason: str, **details: Any) -> Entry:
    return Entry(
        BACKUP_CODE_REVEALED,
        outcome,
        account_id=row.account_id,
        subject=f"checkout:{row.id}",
        reason=reason,
        details=details,
    )


async def reveal_backup_code(
    rt: Runtime, caller: Caller, checkout_id: str, reason: str
) -> BackupCode:
    """The next unused backup code of the checkout's version, audited before it leaves."""
    gestor_id = caller.principal.gestor_id if caller.principal else None
    now = rt.clock.now()
    async with rt.reader() as reader:
        row = await CheckoutRepository(reader).get(checkout_id)
        since = None if row is None else await RevealRepository(reader).codes_since(row.account_id)
    if row is None:
        raise NotFound(f"No checkout with id {checkout_id}")
    if gestor_id is None or row.gestor_id != gestor_id:
        raise Forbidden("Only the gestor holding the checkout can ask for a backup code")
    if row.closed_at is not None:
        raise Conflict(f"The checkout is already closed ({row.close_reason})")
    if row.expires_at <= now:
        await expire_checkouts(rt, row.account_id)
        raise Conflict(f"The checkout expired at {rfc3339(row.expires_at)}")
    replaced = _replaced_since_grant(row, since)
    if replaced is not None:
        raise replaced
    codes = await _read_codes(rt, caller, row)
    async with rt.unit_of_work(caller) as uow:
        outcome = await _reveal(uow, row, codes, reason)
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


def _replaced_since_grant(row: Checkout, since: int | None) -> DomainError | None:
    """A set of codes newer than the checkout's version: its own are void, none leaves."""
    version = row.credential_version
    if version is None or since is None or since > version:
        return Conflict(
            f"The backup codes were replaced after this checkout was granted (version "
            f"{version}); check in and check the account out again"
        )
    return None


async def _read_codes(rt: Runtime, caller: Caller, row: Checkout) -> list[str]:
    """The checkout's version's codes, read through a child token that names the checkout."""
    metadata = {
        "gestor_id": row.gestor_id,
        "account_id": row.account_id,
        "checkout_id": row.id,
        "purpose": "backup_code",
    }
    version = row.credential_version
    try:
        found = await rt.vault.checkout_read(row.account_id, metadata=metadata, version=version)
    except Exception as exc:  # whatever went wrong, no code leaves
        failed = _event(
            row,
            "error",
            "vault_error",
            gestor_id=row.gestor_id,
            credential_version=version,
            error_type=type(exc).__name__,
        )
        await rt.record(caller, failed)
        raise VaultUnavailable("Vault failed; no backup code was released") from None
    if found is None or found[1].version != version:
        raise Conflict(
            f"Version {version} of the credential is no longer in Vault (deleted or "
            "destroyed); no backup code was released"
        )
    codes = found[0].get("backup_codes")
    if not isinstance(codes, list) or not codes:
        raise Conflict(f"Version {version} of the credential holds no backup codes")
    return [str(code) for code in codes]


async def _reveal(
    uow: UnitOfWork, row: Checkout, codes: list[str], reason: str
) -> BackupCode | DomainError:
    """Under the checkout's row lock: the next unused code, its event recorded; or the refusal."""
    now = uow.now()
    locked = await CheckoutRepository(uow).get(row.id, lock=True)
    assert locked is not None  # checkouts are never deleted
    version = locked.credential_version
    assert version is not None
    if locked.closed_at is None and locked.expires_at <= now:
        await close_expired(uow, now, locked.account_id)
    if locked.closed_at is not None:
        closed_by = locked.close_reason
        uow.record(_event(locked, "denied", "closed_meanwhile", closed_by=closed_by))
        return Conflict(f"The checkout was closed ({closed_by}); no backup code was released")
    reveals = RevealRepository(uow)
    since = await reveals.codes_since(locked.account_id)
    replaced = _replaced_since_grant(locked, since)
    if replaced is not None:
        return replaced
    assert since is not None  # _replaced_since_grant refuses an account without one
    revealed = await reveals.revealed(locked.account_id, since)
    index = next_unused_code(len(codes), revealed)
    if index is None:
        uow.record(_event(locked, "denied", "exhausted", credential_version=version))
        return Conflict(
            f"All {len(codes)} backup codes of this set were revealed; generate a new set "
            "on the platform and write it as a new credential version"
        )
    remaining = codes_left(len(codes), revealed | {index})
    details = reveal_details(locked.gestor_id, version, index, remaining)
    uow.record(_event(locked, "ok", reason, **details))
    return BackupCode(
        checkout_id=locked.id,
        credential_version=version,
        index=index,
        code=codes[index],
        remaining=remaining,
    )
