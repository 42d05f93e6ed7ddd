"""Write intents in the audit trail: committed before Vault is written, read by recovery.

A write intent names the account, the version the check-and-set write expects
(current + 1), the actor, the checkout and the reason; never the secret or its
fingerprint. It is committed before Vault is touched, so a version that reaches
Vault always has a record of who was writing it, even if the SQL record after
the Vault write is lost.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import structlog
from sqlalchemy import exists, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from service.audit.log import Entry, append
from service.db.models import AuditEvent
from service.domain.write_intents import (
    CONFLICT,
    FAILED,
    INTENT,
    RECOVERED,
    SETTLING,
    WRITTEN,
    CredentialEvent,
)
from service.errors import DomainError
from service.principal import Caller
from service.runtime import Runtime

log = structlog.get_logger("custodia.credentials")

_READ = (INTENT, WRITTEN, RECOVERED, CONFLICT, FAILED)


async def started(
    rt: Runtime,
    caller: Caller,
    account_id: str,
    *,
    version: int,
    checkout_id: str | None,
    reason: str,
    fields: Sequence[str],
) -> int:
    """Commit the intent and return its seq; if this fails, nothing reaches Vault."""
    async with rt.transaction() as session:
        event = await append(
            session,
            caller,
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
                },
            ),
            rt.clock,
        )
    return event.seq


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


async def account_events(session: AsyncSession, account_id: str) -> list[CredentialEvent]:
    """The account's credential events that recovery reads, in chain order."""
    rows = await session.execute(
        select(
            AuditEvent.seq,
            AuditEvent.action,
            AuditEvent.details,
            AuditEvent.actor,
            AuditEvent.actor_role,
            AuditEvent.reason,
        )
        .where(AuditEvent.account_id == account_id, AuditEvent.action.in_(_READ))
        .order_by(AuditEvent.seq)
    )
    return [
        CredentialEvent(r.seq, r.action, json.loads(r.details), r.actor, r.actor_role, r.reason)
        for r in rows
    ]


async def accounts_with_open_intents(session: AsyncSession, since: str, until: str) -> list[str]:
    """Accounts with an intent in [since, until) that no later recorded version settles.

    Every write first recovers what Vault holds and SQL lacks, so a version
    recorded after an intent means the intent's version is recorded too. The
    indexes on (action, seq) and (account_id, seq) keep this a small read.
    """
    intent, later = aliased(AuditEvent), aliased(AuditEvent)
    settled = exists().where(
        later.account_id == intent.account_id,
        later.action.in_(SETTLING),
        later.seq > intent.seq,
    )
    rows = await session.scalars(
        select(intent.account_id)
        .where(intent.action == INTENT, intent.ts >= since, intent.ts < until, ~settled)
        .distinct()
    )
    return [a for a in rows if a is not None]
