"""Granting a checkout: the fixed order of checks, then fail-closed retrieval.

Order (each refusal audited with its reason): role; account exists and is not
retired; gestor assigned; responsiva accepted; TOTP enrolled; lockout; TOTP
valid and unused; the account's custody (holdable, has a credential);
exclusivity (the partial unique index decides); Vault. Custody comes after the
code so that only a gestor who passed every access check learns it.
The checkout row and its ``checkout.granted`` event commit before the secret
is read; the read is pinned to the granted version, and if Vault then fails or
the checkout was closed meanwhile, nothing is released.
The request holds one pooled connection for its reads, refusals, grant and release.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.audit.log import Entry, append
from service.checkouts import held, repository
from service.checkouts.expiry import close_expired
from service.checkouts.release import release
from service.clock import rfc3339
from service.db.models import Checkout
from service.domain.accounts import AccountProfile, ensure_may_hold_credential
from service.domain.responsiva import acceptance_is_current
from service.domain.totp import LockoutState, ensure_not_locked, matching_step
from service.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    InvalidTotp,
    NotFound,
)
from service.gestores.second_factor import consume_step, register_bad_code, reset_failures
from service.principal import Caller
from service.rotations.obligations import as_utc, opt_utc
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
    conn: AsyncConnection | None = None,
) -> DomainError:
    entry = _refusal(account_id, gestor, reason)
    if conn is None:
        await rt.record(caller, entry)
    else:
        await held.record(rt, conn, caller, entry)
    return error


def _refusal_of(facts: Row[Any], account_id: str, now: datetime) -> tuple[str, DomainError] | None:
    """The first access check (after the role) that fails, in the fixed order."""
    if facts.account_id is None:
        return "account_not_found", NotFound(f"No account with id {account_id}")
    if facts.retired_at is not None:
        return "account_retired", Conflict(
            "The account is retired and can no longer be checked out"
        )
    if facts.departed_at is not None or not facts.assigned:
        return "not_assigned", Forbidden("You are not assigned to this account")
    if not acceptance_is_current(facts.responsiva_version, facts.responsiva_sha256):
        return "responsiva_not_accepted", Forbidden(
            "Accept the current responsiva first (GET /v1/me/responsiva)"
        )
    if facts.totp_state != "active":
        return "totp_not_enrolled", Forbidden(
            "Enrol and confirm TOTP first (/v1/me/totp/enrollment)"
        )
    try:
        ensure_not_locked(LockoutState(facts.totp_failures, opt_utc(facts.locked_until)), now)
    except DomainError as locked:
        return "locked", locked
    return None


def _custody_refusal(facts: Row[Any], now: datetime) -> tuple[str, DomainError] | None:
    """After the TOTP code: whether the account can be checked out at all."""
    try:
        ensure_may_hold_credential(_profile(facts), now)
    except DomainError as outside:
        return "not_in_custody", outside
    if facts.credential_version is None:
        return "no_credential", Conflict("The account has no credential in custody")
    return None


def _profile(facts: Row[Any]) -> AccountProfile:
    return AccountProfile(
        kind=facts.kind,
        managed_by_area=bool(facts.managed_by_area),
        term_ends_on=facts.term_ends_on,
    )


async def grant(
    rt: Runtime,
    caller: Caller,
    account_id: str,
    *,
    totp_code: str,
    reason: str,
    minutes: int | None,
    conn: AsyncConnection | None = None,
) -> dict[str, Any]:
    """Check, commit the audited checkout, then read the secret through a child token.

    ``conn``, when given, is this request's connection (closed here).
    """
    gestor_id = caller.principal.gestor_id if caller.principal else None
    async with held.connection(rt, conn) as conn:
        if caller.role != "gestor" or gestor_id is None:
            raise await _refuse(
                rt,
                caller,
                account_id,
                None,
                "role",
                Forbidden("Only a gestor can check a credential out"),
                conn,
            )
        minutes = rt.settings.checkout_default_minutes if minutes is None else minutes
        if minutes > rt.settings.checkout_max_minutes:
            raise InvalidInput(
                f"minutes must be at most {rt.settings.checkout_max_minutes}", field="minutes"
            )
        now = rt.clock.now()
        facts = await repository.grant_facts(conn, account_id, gestor_id, now)
        assert facts is not None  # the token resolved
        refused = _refusal_of(facts, account_id, now)
        if refused is not None:
            why, denial = refused
            raise await _refuse(rt, caller, account_id, gestor_id, why, denial, conn)
        try:
            seed = await rt.vault.get_totp_seed(gestor_id)
        except DomainError as down:
            raise await _refuse(
                rt, caller, account_id, gestor_id, "vault_unavailable", down, conn
            ) from None
        if seed is None:
            raise await _refuse(
                rt,
                caller,
                account_id,
                gestor_id,
                "totp_not_enrolled",
                Forbidden("Your TOTP seed is missing; ask an admin to reset it"),
                conn,
            )
        step = matching_step(seed, totp_code, now)
        checkout = Checkout(
            id=str(uuid.uuid4()),
            account_id=account_id,
            gestor_id=gestor_id,
            reason=reason,
            granted_at=now,
            expires_at=now + timedelta(minutes=minutes),
            credential_version=facts.credential_version,
        )
        async with held.transaction(rt, conn) as session:
            error = await _commit(rt, session, caller, checkout, step, facts.has_expired)
        if error is not None:
            raise error
        return await release(rt, caller, checkout, conn)


async def _commit(
    rt: Runtime,
    session: AsyncSession,
    caller: Caller,
    checkout: Checkout,
    step: int | None,
    has_expired: bool,
) -> DomainError | None:
    """Re-check under the chain lock, spend the code, insert; the refusal, if any."""
    # The transaction began with the chain lock, as every write does (departure,
    # unassignment, retirement, incidents, hand-back): either they see this
    # checkout and close it, or this re-read sees them. Concurrent codes of one
    # gestor queue here, so the lockout holds.
    now, account_id, gestor_id = checkout.granted_at, checkout.account_id, checkout.gestor_id
    if has_expired:
        # Lazy expiry of this account, in the grant's transaction, events first.
        await close_expired(session, rt.clock, now, account_id)
    facts = await repository.grant_facts_in_transaction(session, account_id, gestor_id, now)
    refused = None if facts is None else _refusal_of(facts, account_id, now)
    if facts is None or refused is not None:
        why, denial = refused or ("not_assigned", Forbidden("You are no longer a gestor"))
        await append(session, caller, _refusal(account_id, gestor_id, why), rt.clock)
        return denial
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
        return InvalidTotp("The TOTP code is wrong, expired or already used")
    await reset_failures(session, gestor_id)
    # The code is spent even when the account cannot be held, as for exclusivity.
    outside = _custody_refusal(facts, now)
    if outside is not None:
        why, denial = outside
        await append(session, caller, _refusal(account_id, gestor_id, why), rt.clock)
        return denial
    checkout.credential_version = facts.credential_version
    return await _insert_exclusive(rt, session, caller, checkout)


async def _insert_exclusive(
    rt: Runtime, session: AsyncSession, caller: Caller, checkout: Checkout
) -> DomainError | None:
    """Insert under the one-open-per-account index; the loser is refused, naming until when."""
    rotation_required = await repository.insert_open(
        session,
        {
            "id": checkout.id,
            "account_id": checkout.account_id,
            "gestor_id": checkout.gestor_id,
            "reason": checkout.reason,
            "granted_at": checkout.granted_at,
            "expires_at": checkout.expires_at,
            "closed_at": None,
            "close_reason": None,
            "credential_version": checkout.credential_version,
        },
    )
    if rotation_required is None:
        holder = await repository.holder_expiry(session, checkout.account_id)
        until = rfc3339(as_utc(holder)) if holder else None
        await append(
            session,
            caller,
            _refusal(checkout.account_id, checkout.gestor_id, "exclusive", until=until),
            rt.clock,
        )
        return Conflict(f"The account is checked out until {until}", until=until)
    checkout.rotation_required = rotation_required
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
