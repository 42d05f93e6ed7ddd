"""Recording credential versions Vault holds and SQL lost (the write failed after Vault).

A version is recorded with the writer named by its write intent (``unknown``
when no single intent can have produced it) and a ``credential.version_recovered``
event. Rotation evidence: a recovered version satisfies a rotation obligation
only with the evidence a live write needs, an intent (written through the
service) and fingerprints of this and the previous version, made with the same
key version, that differ; otherwise it is recorded as not a rotation and says
why (``evidence``). Recovery never reads a secret: two-factor facts come from
the intent's list of fields; masked recovery channels of a version whose
fields include them keep the previous masks (the values are not known here).

Safe across replicas: the account row lock (on SQLite the write lock) is taken
before SQL's versions are read, and the (account_id, version) key decides any
remaining race; a version already recorded is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.exc import IntegrityError

from service.accounts.repository import AccountRepository
from service.audit.log import Entry
from service.clock import rfc3339
from service.credentials.repository import CredentialRepository
from service.db.models import Account, CredentialVersion
from service.domain.events import CheckoutAsked, CheckoutFacts, CredentialWritten
from service.domain.rotation import counts_as_rotation
from service.domain.write_intents import (
    RECOVERED,
    CredentialEvent,
    rotation_evidence,
    writer_intent,
)
from service.errors import VaultDenied, VaultUnavailable
from service.principal import SYSTEM, Caller
from service.runtime import Runtime
from service.uow import UnitOfWork
from service.vault.client import SecretVersion

log = structlog.get_logger("custodia.credentials")

ROUND_SECONDS = 60.0
# A write in flight between Vault and its SQL commit is left to its writer this long.
GRACE = timedelta(minutes=2)
# Older intents are left to the account's next write, which recovers whatever Vault holds.
LOOKBACK = timedelta(days=7)
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Recovered:
    version: int
    intent_seq: int | None
    written_by: str
    is_rotation: bool


async def recover_account(
    rt: Runtime,
    account_id: str,
    caller: Caller = SYSTEM,
    in_vault: dict[int, SecretVersion] | None = None,
) -> list[Recovered]:
    """Record every version Vault holds that SQL does not; idempotent."""
    if in_vault is None:
        in_vault = await rt.vault.credential_versions(account_id)
    async with rt.reader() as reader:
        missing = set(in_vault) - await CredentialRepository(reader).version_numbers(account_id)
    if not missing:
        return []
    # Vault first, outside the transaction: no network wait while holding locks.
    fingerprints = await rt.vault.read_fingerprints(account_id)
    try:
        return await _record_missing(rt, caller, account_id, in_vault, fingerprints)
    except IntegrityError:
        # Another replica recorded one of them between our lock and insert; start over once.
        return await _record_missing(rt, caller, account_id, in_vault, fingerprints)


async def _record_missing(
    rt: Runtime,
    caller: Caller,
    account_id: str,
    in_vault: dict[int, SecretVersion],
    fingerprints: dict[int, str],
) -> list[Recovered]:
    out: list[Recovered] = []
    async with rt.unit_of_work(caller) as uow:
        account = await AccountRepository(uow).get(account_id, lock=True)
        if account is None:
            return []
        repo = CredentialRepository(uow)
        missing = sorted(set(in_vault) - await repo.version_numbers(account_id))
        events = await repo.credential_events(account_id) if missing else []
        for number in missing:
            intent = writer_intent(events, number)
            evidence = rotation_evidence(
                number, intent is not None, fingerprints.get(number), fingerprints.get(number - 1)
            )
            row = _row(account_id, in_vault[number], intent, is_rotation=evidence == "rotation")
            # As a live write: a leaver's version, or one written after its checkout
            # closed, is history but satisfies no rotation (rotations' CredentialWritten).
            writer, ended = await _writer_access(uow, row, in_vault[number])
            row.is_rotation = counts_as_rotation(row.is_rotation, access_ended_during_write=ended)
            repo.add(row)
            fields = intent and intent.details.get("fields")
            _update_account(account, in_vault[number], fields, uow.now())
            uow.record(
                Entry(
                    RECOVERED,
                    "ok",
                    account_id=account_id,
                    subject=f"account:{account_id}",
                    reason=row.reason,
                    details={
                        "version": number,
                        "intent_seq": intent.seq if intent is not None else None,
                        "written_by": row.written_by,
                        "checkout_id": row.checkout_id,
                        "is_rotation": row.is_rotation,
                        "evidence": evidence if not ended else "access_ended_during_write",
                    },
                )
            )
            await uow.publish(
                CredentialWritten(
                    account_id=account_id,
                    version=number,
                    created_time=in_vault[number].created_time,
                    password_changed=row.is_rotation,
                    writer_gestor_id=writer,
                    access_ended_during_write=ended,
                )
            )
            seq = intent.seq if intent is not None else None
            out.append(Recovered(number, seq, row.written_by, row.is_rotation))
    for item in out:
        log.warning("credential_version_recovered", account_id=account_id, version=item.version)
    return out


def _row(
    account_id: str, version: SecretVersion, intent: CredentialEvent | None, *, is_rotation: bool
) -> CredentialVersion:
    """The version's record, its writer named by the intent (``unknown`` without one)."""
    row = CredentialVersion(
        account_id=account_id,
        version=version.version,
        created_time=version.created_time,
        written_by=UNKNOWN,
        written_by_role=UNKNOWN,
        reason=_reason(None),
        checkout_id=None,
        is_rotation=is_rotation,
    )
    if intent is not None:
        row.written_by = intent.actor or "system"
        row.written_by_role = intent.actor_role or "system"
        row.reason = _reason(intent.reason)
        row.checkout_id = intent.details.get("checkout_id")
    return row


async def _writer_access(
    uow: UnitOfWork, row: CredentialVersion, version: SecretVersion
) -> tuple[str | None, bool]:
    """The gestor who wrote it through a checkout, and whether that checkout had closed first.

    Not locked: a close that commits meanwhile is later than the version, so it
    cannot change the answer.
    """
    if row.checkout_id is None or row.written_by_role != "gestor":
        return None, False
    answers = await uow.publish(CheckoutAsked(checkout_id=row.checkout_id))
    checkout = next((a for a in answers if isinstance(a, CheckoutFacts)), None)
    if checkout is None:
        return None, False
    ended = checkout.closed_at is not None and checkout.closed_at <= version.created_time
    return checkout.gestor_id, ended


def _reason(intent_reason: str | None) -> str:
    """The version's reason says it was recovered, and why it was being written."""
    if intent_reason is None:
        return "recovered from Vault: no write intent names this version"
    return f"recovered from Vault: {intent_reason}"[:500]


def _update_account(
    account: Account, version: SecretVersion, fields: object, now: datetime
) -> None:
    """Newest facts only, as a live write does; no secret is read to fill them."""
    if account.credential_version is not None and version.version <= account.credential_version:
        return
    account.credential_version = version.version
    account.credential_created_time = version.created_time
    account.updated_at = now
    if isinstance(fields, list):
        account.two_factor_method = "totp" if "totp_secret" in fields else None
        if "recovery_email" not in fields:
            account.recovery_email_masked = None
        if "recovery_phone" not in fields:
            account.recovery_phone_masked = None


async def recovery_round(rt: Runtime) -> float:
    """Periodic job: recover accounts whose write intent no recorded version settles."""
    now = rt.clock.now()
    async with rt.reader() as reader:
        accounts = await CredentialRepository(reader).accounts_with_open_intents(
            rfc3339(now - LOOKBACK), rfc3339(now - GRACE)
        )
    for account_id in accounts:
        try:
            await recover_account(rt, account_id)
        except (VaultUnavailable, VaultDenied) as exc:
            log.warning("recovery_deferred", account_id=account_id, error=type(exc).__name__)
            break
    return ROUND_SECONDS
