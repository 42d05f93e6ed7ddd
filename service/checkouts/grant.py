"""Granting a checkout: the fixed order of checks, then fail-closed retrieval.

Order (each refusal audited with its reason): role; account exists and is not
retired; gestor assigned; responsiva accepted; TOTP enrolled; lockout; TOTP
valid and unused; exclusivity (the partial unique index decides); Vault.
The checkout row and its ``checkout.granted`` event commit before the secret
is read; if Vault then fails, the checkout is closed and nothing is released.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from service.accounts.repository import AccountRepository
from service.audit.log import Entry, append
from service.checkouts.expiry import expire_checkouts
from service.checkouts.repository import CheckoutRepository
from service.clock import rfc3339
from service.db.models import Checkout
from service.domain.responsiva import acceptance_is_current
from service.domain.totp import ensure_not_locked, matching_step, platform_code
from service.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    InvalidTotp,
    NotFound,
    VaultUnavailable,
)
from service.gestores.repository import GestorRepository
from service.gestores.second_factor import (
    clear_failures,
    consume_step,
    lockout_state,
    register_bad_code,
)
from service.principal import Caller
from service.rotations import hooks
from service.rotations.obligations import as_utc
from service.runtime import Runtime


def _refusal(account_id: str, gestor: str | None, reason: str, **details: Any) -> Entry:
    return Entry(
        "checkout.refused",
        "denied",
        account_id=account_id,
        subject=f"gestor:{gestor}" if gestor else None,
        reason=reason,
        details=details,
    )


async def _refuse(
    rt: Runtime,
    caller: Caller,
    account_id: str,
    gestor: str | None,
    reason: str,
    error: DomainError,
    **details: Any,
) -> DomainError:
    await rt.record(caller, _refusal(account_id, gestor, reason, **details))
    return error


async def grant(
    rt: Runtime,
    caller: Caller,
    account_id: str,
    *,
    totp_code: str,
    reason: str,
    minutes: int | None,
) -> dict[str, Any]:
    """Check, commit the audited checkout, then read the secret through a child token."""
    gestor_id = caller.principal.gestor_id if caller.principal else None
    if caller.role != "gestor" or gestor_id is None:
        raise await _refuse(
            rt,
            caller,
            account_id,
            None,
            "role",
            Forbidden("Only a gestor can check a credential out"),
        )
    minutes = rt.settings.checkout_default_minutes if minutes is None else minutes
    if minutes > rt.settings.checkout_max_minutes:
        raise InvalidInput(
            f"minutes must be at most {rt.settings.checkout_max_minutes}", field="minutes"
        )
    await expire_checkouts(rt, account_id)
    now = rt.clock.now()
    async with rt.sessions() as session:
        account = await AccountRepository(session).get(account_id)
        gestores = GestorRepository(session)
        gestor = await gestores.get(gestor_id)
        assigned = await gestores.active_assignment(account_id, gestor_id)
    assert gestor is not None  # the token resolved
    if account is None:
        raise await _refuse(
            rt,
            caller,
            account_id,
            gestor_id,
            "account_not_found",
            NotFound(f"No account with id {account_id}"),
        )
    if account.retired_at is not None:
        raise await _refuse(
            rt,
            caller,
            account_id,
            gestor_id,
            "account_retired",
            Conflict("The account is retired and can no longer be checked out"),
        )
    if account.credential_version is None:
        raise await _refuse(
            rt,
            caller,
            account_id,
            gestor_id,
            "no_credential",
            Conflict("The account has no credential in custody"),
        )
    if assigned is None:
        raise await _refuse(
            rt,
            caller,
            account_id,
            gestor_id,
            "not_assigned",
            Forbidden("You are not assigned to this account"),
        )
    if not acceptance_is_current(gestor.responsiva_version, gestor.responsiva_sha256):
        raise await _refuse(
            rt,
            caller,
            account_id,
            gestor_id,
            "responsiva_not_accepted",
            Forbidden("Accept the current responsiva first (GET /v1/me/responsiva)"),
        )
    if gestor.totp_state != "active":
        raise await _refuse(
            rt,
            caller,
            account_id,
            gestor_id,
            "totp_not_enrolled",
            Forbidden("Enrol and confirm TOTP first (/v1/me/totp/enrollment)"),
        )
    try:
        ensure_not_locked(lockout_state(gestor), now)
    except DomainError as locked:
        raise await _refuse(rt, caller, account_id, gestor_id, "locked", locked) from None
    try:
        seed = await rt.vault.get_totp_seed(gestor_id)
    except DomainError as down:
        raise await _refuse(rt, caller, account_id, gestor_id, "vault_unavailable", down) from None
    if seed is None:
        raise await _refuse(
            rt,
            caller,
            account_id,
            gestor_id,
            "totp_not_enrolled",
            Forbidden("Your TOTP seed is missing; ask an admin to reset it"),
        )
    step = matching_step(seed, totp_code, now)
    checkout = Checkout(
        id=str(uuid.uuid4()),
        account_id=account_id,
        gestor_id=gestor_id,
        reason=reason,
        granted_at=now,
        expires_at=now + timedelta(minutes=minutes),
        credential_version=account.credential_version,
    )
    error: DomainError | None = None
    async with rt.transaction() as session:
        if step is None or not await consume_step(session, gestor_id, step, now):
            replayed = step is not None
            why = "totp_replayed" if replayed else "invalid_totp"
            await register_bad_code(
                rt,
                session,
                caller,
                gestor_id,
                replayed=replayed,
                purpose="checkout",
                account_id=account_id,
                then=_refusal(account_id, gestor_id, why),
            )
            error = InvalidTotp("The TOTP code is wrong, expired or already used")
        else:
            row = await GestorRepository(session).get(gestor_id)
            assert row is not None
            clear_failures(row)
            error = await _insert_exclusive(rt, session, caller, checkout)
    if error is not None:
        raise error
    return await _release(rt, caller, checkout)


async def _insert_exclusive(
    rt: Runtime, session: Any, caller: Caller, checkout: Checkout
) -> DomainError | None:
    """Insert under the one-open-per-account index; the loser is refused, naming until when."""
    try:
        async with session.begin_nested():
            session.add(checkout)
            await session.flush()
    except IntegrityError:
        holder = await CheckoutRepository(session).open_of_account(checkout.account_id)
        until = rfc3339(as_utc(holder.expires_at)) if holder else None
        await append(
            session,
            caller,
            _refusal(checkout.account_id, checkout.gestor_id, "exclusive", until=until),
            rt.clock,
        )
        return Conflict(f"The account is checked out until {until}", until=until)
    checkout.rotation_required = await hooks.rotation_required(session, checkout.account_id)
    await session.flush()
    await append(
        session,
        caller,
        Entry(
            "checkout.granted",
            "granted",
            account_id=checkout.account_id,
            subject=f"checkout:{checkout.id}",
            reason=checkout.reason,
            details={
                "gestor_id": checkout.gestor_id,
                "expires_at": rfc3339(checkout.expires_at),
                "rotation_required": checkout.rotation_required,
                "credential_version": checkout.credential_version,
            },
        ),
        rt.clock,
    )
    return None


async def _release(rt: Runtime, caller: Caller, checkout: Checkout) -> dict[str, Any]:
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
