"""Writing credential versions: a write intent, Vault (check-and-set), then the SQL record.

Why this order, and why ``cas`` comes from Vault: Vault is the custody of record.
Before Vault is touched, a ``credential.write_started`` event (the write intent:
account, expected version, actor, checkout, reason; no secret) is committed; if
that commit fails nothing reaches Vault (fail closed). If the SQL transaction
after the Vault write fails (or the process dies), Vault holds version N+1 that
SQL does not know about: the caller gets a 503 naming the version, and
``service.credentials.recovery`` records it from the intent, at the start of
the account's next write (before its check-and-set, so the record stays
complete) or in the periodic recovery round. ``cas`` is read from Vault, so the
next write succeeds as N+2; deriving it from SQL would fail forever. Two
concurrent writers both read N and both send cas=N; Vault accepts one and the
other gets 409, never a silent overwrite. A writer whose version was recovered
by someone else meanwhile replaces the recovered record with its own facts.

The current version is read from KV metadata, never the secret: the service does
not pull a password out of Vault outside a checkout (``custodia audit reconcile``
would rightly report that). "Same password again" is decided on keyed
fingerprints instead (``service.credentials.secrets``). A version without a
fingerprint (written before fingerprints existed, or whose fingerprint write was
lost) cannot be compared: the write is accepted, its audit event says
``fingerprint_missing: true``, and it is not evidence of a new password, so it
is not a rotation and satisfies no rotation obligation. The next write then has
a fingerprint to compare with.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.repository import AccountRepository
from service.accounts.usecases import profile_of_row
from service.audit.log import Entry, append
from service.checkouts.repository import CheckoutRepository
from service.credentials import intents
from service.credentials.handback import ensure_not_handed_back
from service.credentials.recovery import recover_account
from service.credentials.schemas import CredentialIn
from service.credentials.secrets import keep_fingerprint, same_password, secret_of
from service.credentials.versions import list_versions as list_versions  # the controller's
from service.db.models import Account, CredentialVersion
from service.domain.accounts import ensure_may_hold_credential
from service.domain.masking import mask_email, mask_phone
from service.domain.rotation import counts_as_rotation
from service.errors import (
    Conflict,
    CredentialNotRecorded,
    Forbidden,
    InvalidInput,
    NotFound,
    VaultConflict,
    VaultDenied,
    VaultUnavailable,
)
from service.principal import Caller
from service.rotations import hooks
from service.runtime import Runtime
from service.vault.client import SecretVersion

log = structlog.get_logger("custodia.credentials")

# Runs inside the SQL transaction that records the version (check-in closes its checkout).
AlsoInTransaction = Callable[[AsyncSession, SecretVersion], Awaitable[None]]


async def _authorised_checkout(rt: Runtime, caller: Caller, account: Account) -> str | None:
    """An admin may always write; a gestor only during their own live checkout."""
    if caller.role == "admin":
        return None
    gestor_id = caller.principal.gestor_id if caller.principal else None
    if caller.role == "gestor" and gestor_id:
        async with rt.sessions() as session:
            live = await CheckoutRepository(session).live_of(account.id, gestor_id, rt.clock.now())
        if live is not None:
            return live.id
    raise Forbidden("A gestor may write a credential only during their own active checkout")


async def write_credential(
    rt: Runtime,
    caller: Caller,
    account_id: str,
    cred: CredentialIn,
    *,
    reason: str,
    checkout_id: str | None = None,
    also: AlsoInTransaction | None = None,
) -> SecretVersion:
    """The one code path for a new version: PUT by admin or gestor, and check-in rotation."""
    secret = secret_of(cred)
    async with rt.sessions() as session:
        account = await AccountRepository(session).get(account_id)
    if account is None:
        raise NotFound(f"No account with id {account_id}")
    if checkout_id is None:
        checkout_id = await _authorised_checkout(rt, caller, account)
    if account.retired_at is not None:
        raise Conflict("The account is retired; its credential can no longer change")
    ensure_may_hold_credential(profile_of_row(account), rt.clock.now())
    if account.credential_version is None:
        # No current version: a first credential, or one handed back (Décima novena).
        await ensure_not_handed_back(rt, account_id)
    fp = await rt.vault.fingerprint(secret["password"])
    # Metadata before fingerprints: a fingerprint for a newer version seen here is harmless.
    versions = await rt.vault.credential_versions(account_id)
    # A version an earlier write left unrecorded is recorded first; failing here fails the write.
    await recover_account(rt, account_id, Caller(None, caller.request_id, caller.ip), versions)
    current = max(versions, default=0)
    differs: bool | None = None  # None: no previous version, or its fingerprint is unknown
    if current:
        known = (await rt.vault.read_fingerprints(account_id)).get(current)
        if known is not None:
            differs = not await same_password(rt.vault, secret["password"], fp, known)
            if not differs:
                raise InvalidInput(
                    "password must differ from the current version's password",
                    field="password",
                )
    reason = cred.reason or reason
    intent_seq = await intents.started(
        rt,
        caller,
        account_id,
        version=current + 1,
        checkout_id=checkout_id,
        reason=reason,
        fields=list(secret),
    )
    try:
        version = await rt.vault.write_credential(account_id, secret, cas=current)
    except VaultConflict:
        await rt.record(
            caller,
            Entry(
                "credential.write_conflict",
                "denied",
                account_id=account_id,
                subject=f"account:{account_id}",
                reason="cas_conflict",
                details={"intent_seq": intent_seq},
            ),
        )
        raise
    except (VaultUnavailable, VaultDenied) as exc:
        await intents.vault_failed(rt, caller, account_id, intent_seq, exc)
        raise
    recorded = await keep_fingerprint(rt.vault, account_id, version.version, fp)
    try:
        async with rt.transaction() as session:
            await _record(
                rt,
                session,
                caller,
                account_id,
                version,
                secret,
                reason=reason,
                checkout_id=checkout_id,
                rotation=differs is True,
                details={
                    "intent_seq": intent_seq,
                    **({"fingerprint_missing": True} if current and differs is None else {}),
                    **({} if recorded else {"fingerprint_not_recorded": True}),
                },
            )
            if also is not None:
                await also(session, version)
    except SQLAlchemyError as exc:
        log.error(
            "credential_not_recorded",
            account_id=account_id,
            version=version.version,
            intent_seq=intent_seq,
            error_type=type(exc).__name__,
        )
        raise CredentialNotRecorded(
            f"Vault holds credential version {version.version}, but the database failed "
            "before recording it; the service will record it from the write intent. "
            "Do not send it again: it is already the current version.",
            version=version.version,
        ) from None
    return version


async def _record(
    rt: Runtime,
    session: AsyncSession,
    caller: Caller,
    account_id: str,
    version: SecretVersion,
    secret: dict[str, Any],
    *,
    reason: str,
    checkout_id: str | None,
    rotation: bool,
    details: dict[str, Any],
) -> None:
    # The account row first: recovery takes it too, so only one of us records the version.
    account = await AccountRepository(session).get(account_id, lock=True)
    assert account is not None  # accounts are never deleted
    row = await session.get(CredentialVersion, (account_id, version.version))
    if row is None:
        row = CredentialVersion(account_id=account_id, version=version.version)
        session.add(row)
    else:
        # Recovered while this write was between Vault and here: the writer knows better.
        details = {**details, "replaces_recovered": True}
    row.created_time = version.created_time
    row.written_by = caller.actor
    row.written_by_role = caller.role or "system"
    row.reason = reason
    row.checkout_id = checkout_id
    # Re-read under the chain lock: a checkout closed meanwhile (unassignment, departure)
    # ended the writer's access, so the version is history but proves no rotation.
    checkout = (
        await CheckoutRepository(session).get(checkout_id, lock=True) if checkout_id else None
    )
    closed = checkout.close_reason if checkout and checkout.closed_at is not None else None
    ended = closed is not None
    rotation = counts_as_rotation(rotation, access_ended_during_write=ended)
    writer = caller.principal.gestor_id if caller.principal and caller.role == "gestor" else None
    if ended:
        why = {"why": "access_ended_during_write", "checkout_closed": closed}
        details = {**details, "satisfies_rotation": False, **why}
    elif rotation and await hooks.names_writer(session, account_id, writer):
        details = {**details, "satisfies_rotation": False, "why": "writer_named_by_obligation"}
    row.is_rotation = rotation
    # Concurrent writers may commit out of order: the row keeps the newest facts.
    if account.credential_version is None or version.version >= account.credential_version:
        account.credential_version = version.version
        account.credential_created_time = version.created_time
        account.two_factor_method = "totp" if "totp_secret" in secret else None
        account.recovery_email_masked = mask_email(secret.get("recovery_email"))
        account.recovery_phone_masked = mask_phone(secret.get("recovery_phone"))
        account.updated_at = rt.clock.now()
    await append(
        session,
        caller,
        Entry(
            "credential.written",
            "ok",
            account_id=account_id,
            subject=f"account:{account_id}",
            reason=reason,
            details={
                "version": version.version,
                "checkout_id": checkout_id,
                "is_rotation": rotation,
                # Which fields the version has, never their values.
                "fields": sorted(secret),
                **details,
            },
        ),
        rt.clock,
    )
    await hooks.credential_written(
        session,
        caller,
        rt.clock,
        account_id=account_id,
        version=version,
        password_changed=rotation,
        writer_gestor_id=writer,
        access_ended_during_write=ended,
    )
