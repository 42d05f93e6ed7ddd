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

Nothing is lost (``service.domain.credential_fields``): a merge (PATCH, and the
check-in's ``new_credential``) becomes a KV v2 PATCH that Vault applies to the
current version, so fields the request does not name (2FA seed, backup codes,
recovery channels, notes) are carried over without the service reading them. A
full replacement (PUT) that would drop one is a 422 naming them. Only a removal
with a reason drops a field, and the audit trail names it (never its value).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError

from service.accounts.profiles import profile_of_row
from service.accounts.repository import AccountRepository
from service.audit.log import Entry
from service.credentials import intents
from service.credentials.fields import current_fields, removals_of
from service.credentials.handback import ensure_not_handed_back
from service.credentials.recording import Written, record_version
from service.credentials.recovery import recover_account
from service.credentials.schemas import CredentialIn
from service.credentials.secrets import keep_fingerprint, same_password, secret_of
from service.credentials.versions import list_versions as list_versions  # the controller's
from service.db.models import Account
from service.domain.accounts import ensure_may_hold_credential
from service.domain.credential_fields import Removal, merged, replaced
from service.domain.events import CheckoutAsked, CheckoutFacts
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
from service.runtime import Runtime
from service.uow import UnitOfWork
from service.vault.client import SecretVersion

log = structlog.get_logger("custodia.credentials")

# Runs inside the unit of work that records the version (check-in closes its checkout).
AlsoInTransaction = Callable[[UnitOfWork, SecretVersion], Awaitable[None]]


async def _authorised_checkout(rt: Runtime, caller: Caller, account: Account) -> str | None:
    """An admin may always write; a gestor only during their own live checkout."""
    if caller.role == "admin":
        return None
    gestor_id = caller.principal.gestor_id if caller.principal else None
    if caller.role == "gestor" and gestor_id:
        async with rt.unit_of_work(caller) as uow:
            answers = await uow.publish(CheckoutAsked(account_id=account.id, gestor_id=gestor_id))
        live = next((a for a in answers if isinstance(a, CheckoutFacts)), None)
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
    replace: bool = False,
) -> SecretVersion:
    """The one code path for a new version: PUT (``replace``), PATCH and check-in (merge).

    A merge keeps every field the request does not name; a replacement that
    would drop one is refused. Either way only an explicit removal drops a field.
    """
    secret = secret_of(cred)
    removals = removals_of(cred, secret)
    checkout_id = await _may_write(rt, caller, account_id, checkout_id)
    fp = await rt.vault.fingerprint(secret["password"])
    current, differs = await _current_version(rt, caller, account_id, secret["password"], fp)
    known = await current_fields(rt, account_id, current)
    new = (replaced if replace else merged)(known, secret, removals)
    reason = cred.reason or reason
    intent_seq = await intents.started(
        rt,
        caller,
        account_id,
        version=current + 1,
        checkout_id=checkout_id,
        reason=reason,
        fields=new.fields,
        extra=new.intent_details(),
    )
    # Replacing, or a first version: the secret as sent; otherwise Vault merges it in.
    changes = None if replace or not current else _merge_patch(secret, removals)
    version = await _write_to_vault(rt, caller, account_id, secret, changes, current, intent_seq)
    recorded = await keep_fingerprint(rt.vault, account_id, version.version, fp)
    written = Written(
        version,
        secret,
        new.fields,
        reason,
        checkout_id,
        rotation=differs is True,
        details={
            "intent_seq": intent_seq,
            **({"fingerprint_missing": True} if current and differs is None else {}),
            **({} if recorded else {"fingerprint_not_recorded": True}),
            **new.written_details(),
        },
    )
    await _record(rt, caller, account_id, written, intent_seq, also)
    return version


def _merge_patch(secret: dict[str, Any], removals: tuple[Removal, ...]) -> dict[str, Any]:
    """A JSON merge patch: the sent fields, and null for each removed one."""
    return {**secret, **{r.field: None for r in removals}}


async def _may_write(
    rt: Runtime, caller: Caller, account_id: str, checkout_id: str | None
) -> str | None:
    """The checks before Vault, in their fixed order; the checkout the write comes through."""
    async with rt.reader() as reader:
        account = await AccountRepository(reader).get(account_id)
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
    return checkout_id


async def _current_version(
    rt: Runtime, caller: Caller, account_id: str, password: str, fp: str
) -> tuple[int, bool | None]:
    """Vault's current version, and whether the password differs from it (None: unknown)."""
    # Metadata before fingerprints: a fingerprint for a newer version seen here is harmless.
    versions = await rt.vault.credential_versions(account_id)
    # A version an earlier write left unrecorded is recorded first; failing here fails the write.
    await recover_account(rt, account_id, dataclasses.replace(caller, principal=None), versions)
    current = max(versions, default=0)
    if not current:
        return 0, None
    known = (await rt.vault.read_fingerprints(account_id)).get(current)
    if known is None:
        return current, None
    if await same_password(rt.vault, password, fp, known):
        raise InvalidInput(
            "password must differ from the current version's password", field="password"
        )
    return current, True


async def _write_to_vault(
    rt: Runtime,
    caller: Caller,
    account_id: str,
    secret: dict[str, Any],
    changes: dict[str, Any] | None,
    current: int,
    intent_seq: int,
) -> SecretVersion:
    """Check-and-set on ``current``; a refusal or a failure is recorded against the intent.

    With ``changes``, Vault merges them into ``current`` (never read by the service).
    """
    try:
        if changes is not None:
            return await rt.vault.patch_credential(account_id, changes, cas=current)
        return await rt.vault.write_credential(account_id, secret, cas=current)
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


async def _record(
    rt: Runtime,
    caller: Caller,
    account_id: str,
    written: Written,
    intent_seq: int,
    also: AlsoInTransaction | None,
) -> None:
    """Record the version in SQL; a failure leaves it to recovery and says so (503)."""
    version = written.version
    try:
        async with rt.unit_of_work(caller) as uow:
            await record_version(uow, account_id, written)
            if also is not None:
                await also(uow, version)
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
