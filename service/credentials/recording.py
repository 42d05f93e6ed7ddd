"""Recording a version Vault has just accepted: the SQL row, the account's facts, the events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.accounts.repository import AccountRepository
from service.audit.log import Entry
from service.credentials.repository import CredentialRepository
from service.db.models import Account, CredentialVersion
from service.domain.events import CheckoutAsked, CheckoutFacts, CredentialWritten
from service.domain.masking import mask_email, mask_phone
from service.domain.rotation import counts_as_rotation, names_gestor
from service.uow import UnitOfWork
from service.vault.client import SecretVersion


@dataclass(frozen=True, slots=True)
class Written:
    """What the writer knows of a version that Vault accepted."""

    version: SecretVersion
    # The fields the request sent, with their values (kept in memory only).
    secret: dict[str, Any]
    # Every field of the new version: the sent ones plus what a merge carried over.
    fields: frozenset[str]
    reason: str
    checkout_id: str | None
    # The password differs from the previous version's (compared on fingerprints).
    rotation: bool
    details: dict[str, Any]


async def record_version(uow: UnitOfWork, account_id: str, written: Written) -> None:
    """Record the version with its ``credential.written`` event; it may satisfy a rotation.

    Row locks in the canonical order: the account first (recovery takes it too,
    so only one of us records the version), then the checkout it came through.
    """
    account = await AccountRepository(uow).get(account_id, lock=True)
    assert account is not None  # accounts are never deleted
    caller, version, details = uow.caller, written.version, written.details
    repo = CredentialRepository(uow)
    row = await repo.version(account_id, version.version)
    if row is None:
        row = CredentialVersion(account_id=account_id, version=version.version)
        repo.add(row)
    else:
        # Recovered while this write was between Vault and here: the writer knows better.
        details = {**details, "replaces_recovered": True}
    row.created_time = version.created_time
    row.written_by = caller.actor
    row.written_by_role = caller.role or "system"
    row.reason = written.reason
    row.checkout_id = written.checkout_id
    # Re-read under its row lock: a checkout closed meanwhile (unassignment, departure)
    # ended the writer's access, so the version is history but proves no rotation.
    closed = await _closed_checkout(uow, written.checkout_id)
    ended = closed is not None
    rotation = counts_as_rotation(written.rotation, access_ended_during_write=ended)
    writer = caller.principal.gestor_id if caller.principal and caller.role == "gestor" else None
    if ended:
        why = {"why": "access_ended_during_write", "checkout_closed": closed}
        details = {**details, "satisfies_rotation": False, **why}
    elif rotation and await _names_writer(repo, account_id, writer):
        details = {**details, "satisfies_rotation": False, "why": "writer_named_by_obligation"}
    row.is_rotation = rotation
    _keep_newest_facts(account, written, uow)
    uow.record(
        Entry(
            "credential.written",
            "ok",
            account_id=account_id,
            subject=f"account:{account_id}",
            reason=written.reason,
            details={
                "version": version.version,
                "checkout_id": written.checkout_id,
                "is_rotation": rotation,
                # Which fields the version has, never their values.
                "fields": sorted(written.fields),
                **details,
            },
        )
    )
    await uow.publish(
        CredentialWritten(
            account_id=account_id,
            version=version.version,
            created_time=version.created_time,
            password_changed=rotation,
            writer_gestor_id=writer,
            access_ended_during_write=ended,
            replaced=_replaced(written, rotation),
        )
    )


def _replaced(written: Written, rotation: bool) -> frozenset[str]:
    """The secrets this version set anew: sent with it (a carried-over or removed one was not).

    Removed backup codes or a removed seed may still work on the platform, so only
    a version that sends new ones replaces them.
    """
    sent = {name for name in ("backup_codes", "totp_secret") if name in written.secret}
    return frozenset(sent | ({"password"} if rotation else set()))


async def _closed_checkout(uow: UnitOfWork, checkout_id: str | None) -> str | None:
    """Why the checkout the version came through has closed; None while it is open."""
    if checkout_id is None:
        return None
    answers = await uow.publish(CheckoutAsked(checkout_id=checkout_id, lock=True))
    checkout = next((a for a in answers if isinstance(a, CheckoutFacts)), None)
    return checkout.close_reason if checkout and checkout.closed_at is not None else None


async def _names_writer(repo: CredentialRepository, account_id: str, writer: str | None) -> bool:
    """Whether the account's owed obligation was opened by this gestor's leaving."""
    if writer is None:
        return False
    origins = await repo.owed_origins(account_id)
    return origins is not None and names_gestor(origins, writer)


def _keep_newest_facts(account: Account, written: Written, uow: UnitOfWork) -> None:
    """Concurrent writers may commit out of order: the account keeps the newest facts.

    A recovery channel carried over by a merge keeps its mask: the account's
    facts are the previous version's (recovery recorded it before this write).
    """
    version, secret, fields = written.version, written.secret, written.fields
    if account.credential_version is not None and version.version < account.credential_version:
        return
    account.credential_version = version.version
    account.credential_created_time = version.created_time
    account.two_factor_method = "totp" if "totp_secret" in fields else None
    # Which version set the codes and the seed in use (a departure asks who saw them).
    if "backup_codes" in secret:
        account.backup_codes_version = version.version
    if "totp_secret" in secret:
        account.totp_secret_version = version.version
    if "recovery_email" in secret or "recovery_email" not in fields:
        account.recovery_email_masked = mask_email(secret.get("recovery_email"))
    if "recovery_phone" in secret or "recovery_phone" not in fields:
        account.recovery_phone_masked = mask_phone(secret.get("recovery_phone"))
    account.updated_at = uow.now()
