"""Granting a checkout: the fixed order of checks, then fail-closed retrieval.

Order (each refusal audited with its reason): role; account exists and is not
retired; gestor assigned; responsiva accepted; TOTP enrolled; lockout; TOTP
valid (a wrong code counts towards the lockout) and unused (a replay does not),
for the seed SQL names; the account's custody (holdable, has a credential);
exclusivity (the partial unique index decides); Vault. Custody comes after the
code so that only a gestor who passed every access check learns it.
The checks are read first (no connection is held while Vault gives the seed),
then re-checked in the grant's unit of work under its row locks. The checkout
row and its ``checkout.granted`` event commit before the secret is read; the
read is pinned to the granted version, and if Vault then fails or the checkout
was closed meanwhile, nothing is released.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row

from service.audit.log import Entry
from service.checkouts.expiry import close_expired
from service.checkouts.release import release
from service.checkouts.repository import CheckoutRepository, NewCheckout
from service.checkouts.schemas import Granted
from service.clock import rfc3339
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
from service.runtime import Runtime
from service.uow import UnitOfWork


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
) -> DomainError:
    """Commit the refusal on its own; the error to raise."""
    await rt.record(caller, _refusal(account_id, gestor, reason))
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
        ensure_not_locked(LockoutState(facts.totp_failures, facts.locked_until), now)
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
) -> Granted:
    """Check, commit the audited checkout, then read the secret through a child token."""
    gestor_id = caller.principal.gestor_id if caller.principal else None
    if caller.role != "gestor" or gestor_id is None:
        denied = Forbidden("Only a gestor can check a credential out")
        raise await _refuse(rt, caller, account_id, None, "role", denied)
    minutes = rt.settings.checkout_default_minutes if minutes is None else minutes
    if minutes > rt.settings.checkout_max_minutes:
        raise InvalidInput(
            f"minutes must be at most {rt.settings.checkout_max_minutes}", field="minutes"
        )
    now = rt.clock.now()
    async with rt.reader() as reader:
        facts = await CheckoutRepository(reader).grant_facts(account_id, gestor_id, now)
    assert facts is not None  # the token resolved
    refused = _refusal_of(facts, account_id, now)
    if refused is not None:
        why, denial = refused
        raise await _refuse(rt, caller, account_id, gestor_id, why, denial)
    try:
        seed = await rt.vault.get_totp_seed(gestor_id, facts.totp_seed_id)
    except DomainError as down:
        raise await _refuse(rt, caller, account_id, gestor_id, "vault_unavailable", down) from None
    if seed is None:
        missing = Forbidden("Your TOTP seed is missing; ask an admin to reset it")
        raise await _refuse(rt, caller, account_id, gestor_id, "totp_not_enrolled", missing)
    step = matching_step(seed, totp_code, now)
    checkout = NewCheckout(
        id=str(uuid.uuid4()),
        account_id=account_id,
        gestor_id=gestor_id,
        reason=reason,
        granted_at=now,
        expires_at=now + timedelta(minutes=minutes),
        credential_version=facts.credential_version,
    )
    async with rt.unit_of_work(caller) as uow:
        error = await _commit(uow, checkout, (facts.totp_seed_id, step), facts.has_expired)
    if error is not None:
        raise error
    return await release(rt, caller, checkout)


async def _commit(
    uow: UnitOfWork, checkout: NewCheckout, code: tuple[str | None, int | None], has_expired: bool
) -> DomainError | None:
    """Lock, re-check, spend the code, insert; the refusal (committed with its events), if any.

    ``code``: the seed the code was checked against, and the step it matched (None: no match).
    """
    now, account_id, gestor_id = checkout.granted_at, checkout.account_id, checkout.gestor_id
    repo = CheckoutRepository(uow)
    # Row locks before the re-read: a departure or unassignment (gestor row) or a
    # retirement, incident or hand-back (account row) either sees this checkout
    # and closes it, or this re-read sees them. Concurrent codes of one gestor
    # queue on the gestor row, so the lockout holds.
    await repo.lock_for_grant(account_id, gestor_id)
    if has_expired:
        # Lazy expiry of this account, in the grant's transaction, events first.
        await close_expired(uow, now, account_id)
    facts = await repo.grant_facts(account_id, gestor_id, now)
    refused = None if facts is None else _refusal_of(facts, account_id, now)
    if facts is None or refused is not None:
        why, denial = refused or ("not_assigned", Forbidden("You are no longer a gestor"))
        uow.record(_refusal(account_id, gestor_id, why))
        return denial
    spent = await _spend_code(uow, checkout, facts.totp_seed_id, code)
    if spent is not None:
        return spent
    # The code is spent even when the account cannot be held, as for exclusivity.
    outside = _custody_refusal(facts, now)
    if outside is not None:
        why, denial = outside
        uow.record(_refusal(account_id, gestor_id, why))
        return denial
    checkout.credential_version = facts.credential_version
    return await _insert_exclusive(uow, repo, checkout)


async def _spend_code(
    uow: UnitOfWork,
    checkout: NewCheckout,
    seed_now: str | None,
    code: tuple[str | None, int | None],
) -> InvalidTotp | None:
    """Book the code's step for its seed, or refuse it: wrong (counted) or replayed (not)."""
    now, account_id, gestor_id = checkout.granted_at, checkout.account_id, checkout.gestor_id
    seed_id, step = code
    if seed_now != seed_id:
        step = None  # checked against a seed that a reset and a new enrolment replaced
    if step is not None and await consume_step(uow, gestor_id, seed_id, step, now):
        await reset_failures(uow, gestor_id)
        return None
    replayed = step is not None
    why = "totp_replayed" if replayed else "invalid_totp"
    await register_bad_code(
        uow,
        gestor_id,
        replayed=replayed,
        purpose="checkout",
        account_id=account_id,
        then=_refusal(account_id, gestor_id, why),
    )
    return InvalidTotp("The TOTP code is wrong, expired or already used")


async def _insert_exclusive(
    uow: UnitOfWork, repo: CheckoutRepository, checkout: NewCheckout
) -> DomainError | None:
    """Insert under the one-open-per-account index; the loser is refused, naming until when."""
    rotation_required = await repo.insert_open(checkout)
    if rotation_required is None:
        holder = await repo.holder_expiry(checkout.account_id)
        until = rfc3339(holder) if holder else None
        uow.record(_refusal(checkout.account_id, checkout.gestor_id, "exclusive", until=until))
        return Conflict(f"The account is checked out until {until}", until=until)
    checkout.rotation_required = rotation_required
    uow.record(
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
        )
    )
    return None
