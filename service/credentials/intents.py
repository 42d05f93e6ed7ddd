"""Write intents in the audit trail: committed before Vault is written, read by recovery.

A write intent names the account, the version the check-and-set write expects
(current + 1), the actor, the checkout and the reason; never the secret or its
fingerprint. It is committed before Vault is touched, so a version that reaches
Vault always has a record of who was writing it, even if the SQL record after
the Vault write is lost. Recovery reads them back (CredentialRepository).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError

from service.audit.log import Entry
from service.domain.write_intents import FAILED, INTENT
from service.errors import DomainError
from service.principal import Caller
from service.runtime import Runtime

log = structlog.get_logger("custodia.credentials")


async def started(
    rt: Runtime,
    caller: Caller,
    account_id: str,
    *,
    version: int,
    checkout_id: str | None,
    reason: str,
    fields: Collection[str],
    extra: Mapping[str, Any] | None = None,
) -> int:
    """Commit the intent and return its seq; if this fails, nothing reaches Vault."""
    async with rt.unit_of_work(caller) as uow:
        recorded = uow.record(
            Entry(
                INTENT,
                "ok",
                account_id=account_id,
                subject=f"account:{account_id}",
                reason=reason,
                details={
                    "version": version,
                    "checkout_id": checkout_id,
                    # Which fields the version will have (two-factor facts), never values.
                    "fields": sorted(fields),
                    # Removals with their reasons; a field list that may be incomplete.
                    **(extra or {}),
                },
            )
        )
    assert recorded.seq is not None  # set by the commit
    return recorded.seq


async def vault_failed(
    rt: Runtime, caller: Caller, account_id: str, intent_seq: int, error: DomainError
) -> None:
    """Record that the intent's Vault write reported an error (it may still have landed)."""
    entry = Entry(
        FAILED,
        "error",
        account_id=account_id,
        subject=f"account:{account_id}",
        reason=error.title,
        details={"intent_seq": intent_seq},
    )
    try:
        await rt.record(caller, entry)
    except SQLAlchemyError as exc:
        # Only attribution gets harder (see writer_intent); the Vault error is what the caller sees.
        log.warning("write_failure_not_recorded", account_id=account_id, error=type(exc).__name__)
