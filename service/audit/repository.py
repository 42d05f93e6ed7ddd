"""The SQL of the audit trail's tables: its events (read here) and signed checkpoints."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from service.audit.canonical import EVENT_KEYS
from service.audit.queries import EventFilter
from service.clock import rfc3339
from service.db.models import AuditCheckpoint, AuditEvent
from service.db.work import Repository

# Every column of an event, in EVENT_KEYS order: what verification and export read.
_COLUMNS = select(*(getattr(AuditEvent, name) for name in EVENT_KEYS))


@dataclass(frozen=True)
class ChainPoint:
    """One event's place in the chain: what a checkpoint signs."""

    seq: int
    hash: str
    ts: str


@dataclass(frozen=True)
class GrantRow:
    """The columns of a ``checkout.granted`` event that name the checkout."""

    ts: str
    actor: str | None
    account_id: str | None
    subject: str | None
    details: str


class AuditEventRepository(Repository):
    """Reads of ``audit_events``; appending is the unit of work's (service.audit.log)."""

    async def last_seq(self) -> int:
        """The head's seq, 0 for an empty chain."""
        return (await self.session.execute(select(func.max(AuditEvent.seq)))).scalar() or 0

    async def point(self, seq: int | None) -> ChainPoint | None:
        """The event at ``seq``, or the head when ``seq`` is None."""
        query = select(AuditEvent.seq, AuditEvent.hash, AuditEvent.ts)
        query = (
            query.order_by(AuditEvent.seq.desc()).limit(1)
            if seq is None
            else query.where(AuditEvent.seq == seq)
        )
        row = (await self.session.execute(query)).first()
        return None if row is None else ChainPoint(row.seq, row.hash, row.ts)

    async def seq_bounds(
        self, since: datetime | None, until: datetime | None
    ) -> tuple[int, int] | None:
        """The smallest seq at or after ``since`` and the largest before ``until``.

        Every event in the time window lies between them, whatever the clocks of the
        replicas that wrote it, so a query may add them to walk the seq index briefly.
        ``None`` when the window holds no event.
        """
        first_query = select(func.min(AuditEvent.seq))
        last_query = select(func.max(AuditEvent.seq))
        # ts is fixed-width RFC 3339 UTC with microseconds, so text order is time order.
        if since is not None:
            first_query = first_query.where(AuditEvent.ts >= rfc3339(since))
        if until is not None:
            last_query = last_query.where(AuditEvent.ts < rfc3339(until))
        first = (await self.session.execute(first_query)).scalar()
        last = (await self.session.execute(last_query)).scalar()
        if first is None or last is None or first > last:
            return None
        return int(first), int(last)

    async def search(self, f: EventFilter) -> list[AuditEvent]:
        """Events after ``after_seq`` matching every given filter, oldest first."""
        query = select(AuditEvent).where(AuditEvent.seq > f.after_seq)
        if f.since is not None or f.until is not None:
            bounds = await self.seq_bounds(f.since, f.until)
            if bounds is None:
                return []
            query = query.where(AuditEvent.seq.between(*bounds))
        for column, value in (
            (AuditEvent.actor, f.actor),
            (AuditEvent.account_id, f.account_id),
            (AuditEvent.action, f.action),
            (AuditEvent.outcome, f.outcome),
        ):
            if value is not None:
                query = query.where(column == value)
        if f.since is not None:
            query = query.where(AuditEvent.ts >= rfc3339(f.since))
        if f.until is not None:
            query = query.where(AuditEvent.ts < rfc3339(f.until))
        return list(await self.session.scalars(query.order_by(AuditEvent.seq).limit(f.limit)))

    async def columns(self, after: int, last: int, limit: int) -> list[Sequence[Any]]:
        """Up to ``limit`` events with after < seq <= last, as EVENT_KEYS tuples."""
        rows = await self.session.execute(
            _COLUMNS.where(AuditEvent.seq > after, AuditEvent.seq <= last)
            .order_by(AuditEvent.seq)
            .limit(limit)
        )
        return [tuple(row) for row in rows]

    async def grants(self, action: str, outcome: str, since: datetime | None) -> list[GrantRow]:
        """The events of ``action`` with ``outcome`` at or after ``since``, in seq order."""
        query = (
            select(
                AuditEvent.ts,
                AuditEvent.actor,
                AuditEvent.account_id,
                AuditEvent.subject,
                AuditEvent.details,
            )
            .where(AuditEvent.action == action, AuditEvent.outcome == outcome)
            .order_by(AuditEvent.seq)
        )
        if since is not None:
            query = query.where(AuditEvent.ts >= rfc3339(since))
        return [GrantRow(*row) for row in await self.session.execute(query)]

    async def subjects(self, action: str, since: datetime | None) -> list[str | None]:
        """The subject of every event of ``action`` at or after ``since``."""
        query = select(AuditEvent.subject).where(AuditEvent.action == action)
        if since is not None:
            query = query.where(AuditEvent.ts >= rfc3339(since))
        return list(await self.session.scalars(query))


class AuditCheckpointRepository(Repository):
    """``audit_checkpoints``: signed (seq, hash, ts) statements about the chain."""

    async def from_seq(self, first: int) -> list[AuditCheckpoint]:
        """Every checkpoint at or after ``first``, by seq."""
        query = select(AuditCheckpoint).where(AuditCheckpoint.seq >= first)
        return list(await self.session.scalars(query.order_by(AuditCheckpoint.seq)))

    async def page(self, after: int, limit: int, last: int | None = None) -> list[AuditCheckpoint]:
        """Up to ``limit`` checkpoints after ``after`` (and at most ``last``), by seq."""
        query = select(AuditCheckpoint).where(AuditCheckpoint.seq > after)
        if last is not None:
            query = query.where(AuditCheckpoint.seq <= last)
        return list(await self.session.scalars(query.order_by(AuditCheckpoint.seq).limit(limit)))

    async def last_seq(self, multiple_of: int | None = None) -> int:
        """The highest signed seq (among multiples of ``multiple_of``), 0 when none."""
        query = select(func.max(AuditCheckpoint.seq))
        if multiple_of is not None:
            query = query.where(AuditCheckpoint.seq % multiple_of == 0)
        return (await self.session.execute(query)).scalar() or 0

    async def signed(self, seqs: Iterable[int]) -> set[int]:
        """Which of ``seqs`` already have a checkpoint."""
        query = select(AuditCheckpoint.seq).where(AuditCheckpoint.seq.in_(sorted(seqs)))
        return set(await self.session.scalars(query))

    async def add_unless_signed(self, point: ChainPoint, signature: str, version: int) -> bool:
        """Store a checkpoint; False when another replica stored that seq first."""
        values = {
            "seq": point.seq,
            "hash": point.hash,
            "ts": point.ts,
            "signature": signature,
            "key_version": version,
        }
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(AuditCheckpoint).values(**values).on_conflict_do_nothing()
        result = await self.session.execute(statement)
        return bool(getattr(result, "rowcount", 0))
