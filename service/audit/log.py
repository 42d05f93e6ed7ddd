"""Appending to the hash chain, inside the caller's transaction.

Appends are serialised by the database: on PostgreSQL a transaction-scoped
advisory lock, on SQLite the write lock that BEGIN IMMEDIATE takes. So several
service processes never fork the chain or leave a gap in ``seq``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from service.audit.actions import ACTIONS
from service.audit.canonical import GENESIS_HASH, canonical_json, event_hash
from service.clock import Clock, rfc3339
from service.db.models import AuditEvent
from service.principal import Caller

# Arbitrary but fixed: every process must take the same advisory lock.
AUDIT_LOCK_KEY = 0x43_55_53_54  # "CUST"

# Column widths of audit_events (service/db/models.py).
ACCOUNT_ID_WIDTH, SUBJECT_WIDTH, REASON_WIDTH = 36, 200, 500

# Built once: the hot path (every audited request) only binds values.
_EVENTS = cast(Table, AuditEvent.__table__)
_LOCK = text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=AUDIT_LOCK_KEY)
_HEAD = select(_EVENTS.c.seq, _EVENTS.c.hash).order_by(_EVENTS.c.seq.desc()).limit(1)
_INSERT = insert(_EVENTS)
# session.info key: the transaction that already holds the chain's lock.
_LOCKED_IN = "custodia.audit_chain_locked_in"


@dataclass(frozen=True)
class Entry:
    """What a use case records; the chain fields are filled in by :func:`append`."""

    action: str
    outcome: str
    account_id: str | None = None
    subject: str | None = None
    reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A typo here would make events that no auditor's filter can find.
        if self.action not in ACTIONS:
            raise ValueError(f"unregistered audit action {self.action!r}: add it to ACTIONS")


def event_dict(row: AuditEvent) -> dict[str, Any]:
    """The event as hashed and exported: ``details`` as a JSON object."""
    return {
        "seq": row.seq,
        "ts": row.ts,
        "actor": row.actor,
        "actor_role": row.actor_role,
        "action": row.action,
        "outcome": row.outcome,
        "account_id": row.account_id,
        "subject": row.subject,
        "reason": row.reason,
        "request_id": row.request_id,
        "ip": row.ip,
        "details": json.loads(row.details),
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


async def lock_chain(session: AsyncSession) -> None:
    """Hold the chain's lock until this transaction ends (PostgreSQL; taken once).

    The unit of work (service.uow) takes it last, just before its appends and
    after every row lock it wanted, so a holder never waits for a row and two
    transactions never wait on each other crosswise. (The legacy
    ``Runtime.transaction`` still takes it first.) On SQLite every transaction
    already holds the database's write lock.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    transaction = session.get_transaction()
    if transaction is not None and session.info.get(_LOCKED_IN) is transaction:
        return
    await session.execute(_LOCK)
    session.info[_LOCKED_IN] = transaction


async def append(session: AsyncSession, caller: Caller, entry: Entry, clock: Clock) -> AuditEvent:
    """Append ``entry`` as the next event of the chain, in the session's transaction."""
    await lock_chain(session)
    # Pending ORM changes go first, as the head query's autoflush used to do.
    await session.flush()
    head = (await session.execute(_HEAD)).first()
    seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS_HASH)
    account_id, details = entry.account_id, dict(entry.details)
    if caller.client_request_id is not None:
        # In details, not a column of its own: the chain's hashed format stays as it is.
        details["client_request_id"] = caller.client_request_id
    if account_id is not None and len(account_id) > ACCOUNT_ID_WIDTH:
        # An id from a URL can be anything; recording a refusal must never fail on it.
        details["account_ref"] = account_id[:100]
        account_id = None
    event: dict[str, Any] = {
        "seq": seq,
        "ts": rfc3339(clock.now()),
        "actor": caller.actor,
        "actor_role": caller.role,
        "action": entry.action,
        "outcome": entry.outcome,
        "account_id": account_id,
        "subject": _clip(entry.subject, SUBJECT_WIDTH),
        "reason": _clip(entry.reason, REASON_WIDTH),
        "request_id": caller.request_id,
        "ip": caller.ip,
        "details": details,
        "prev_hash": prev_hash,
    }
    values = {**event, "details": canonical_json(event["details"]).decode()}
    values["hash"] = event_hash(event)
    # A Core insert: no unit of work for a row nobody edits afterwards.
    await session.execute(_INSERT, values)
    # Read by Runtime.transaction after commit, to wake the checkpoint job.
    session.info.setdefault("audit_first_seq", seq)
    session.info["audit_last_seq"] = seq
    return AuditEvent(**values)


def _clip(value: str | None, width: int) -> str | None:
    return value if value is None or len(value) <= width else value[: width - 1] + "…"


async def head(session: AsyncSession) -> tuple[int, str]:
    """(seq, hash) of the last event, or (0, genesis) for an empty chain."""
    row = (await session.execute(_HEAD)).first()
    return (row.seq, row.hash) if row else (0, GENESIS_HASH)
