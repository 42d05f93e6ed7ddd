"""The one way into the database: a unit of work owns one transaction.

It holds the session (for repositories only), the caller, the clock, the audit
entries to append, the domain events to hand to the bus, and the hooks to run
after commit. Use cases never open a session or call ``append`` themselves::

    async with rt.unit_of_work(caller) as uow:
        account = await Accounts(uow).get(account_id, lock=True)  # row locks first
        decision = custody.may_check_out(...)                     # pure
        uow.record(Entry("checkout.granted", ...))                # buffered
        await uow.publish(CheckoutGranted(...))                   # handlers run now
    # COMMIT happened; after-commit hooks ran (checkpoint wake-up, ...)

Audit entries are appended when the work is done, just before COMMIT: the
chain's lock is taken last, after every row lock the transaction wanted, and
held only for the appends and the commit. A transaction holding the chain lock
therefore never waits for a row, so no two transactions can wait on each other
across it (the deadlock da3eb3d fixed, now impossible by construction).
What used to be serialised by taking the chain lock first is now serialised by
row locks, in one canonical order: accounts (by id), then people, then the
rows that hang from them (assignments, checkouts, obligations).
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.audit.log import Entry, append, head, lock_chain
from service.clock import Clock, rfc3339
from service.db.models import WebhookEvent
from service.principal import Caller

if TYPE_CHECKING:
    from service.settings import Settings

Hook = Callable[[], Awaitable[None] | None]
Handler = Callable[["UnitOfWork", Any], Awaitable[object]]
Handlers = Mapping[type, Sequence[Handler]]


@dataclass
class Recorded:
    """An audit entry recorded in a unit of work; ``seq`` is known once it committed."""

    entry: Entry
    caller: Caller
    seq: int | None = None


@dataclass
class Reader:
    """A read-only transaction: no chain lock, no events; on SQLite it does not queue."""

    session: AsyncSession
    clock: Clock

    def now(self) -> datetime:
        return self.clock.now()


@dataclass
class UnitOfWork:
    """One write transaction: repositories, audit entries, events and after-commit hooks."""

    session: AsyncSession
    caller: Caller
    clock: Clock
    settings: Settings
    handlers: Handlers = field(default_factory=dict)
    _records: list[Recorded] = field(default_factory=list)
    _hooks: list[Hook] = field(default_factory=list)
    _seqs: tuple[int, int] | None = None

    def now(self) -> datetime:
        return self.clock.now()

    def record(self, entry: Entry, *, caller: Caller | None = None) -> Recorded:
        """Append ``entry`` to the chain with this transaction (as ``caller``, else the uow's)."""
        recorded = Recorded(entry, caller or self.caller)
        self._records.append(recorded)
        return recorded

    async def publish(self, event: object) -> list[object]:
        """Hand a domain event to its handlers (service.bus) in this transaction; their answers.

        Handlers run now, in the order the bus lists them; a handler that answers
        None adds nothing to the list.
        """
        answers = []
        for handler in self.handlers.get(type(event), ()):
            answer = await handler(self, event)
            if answer is not None:
                answers.append(answer)
        return answers

    def notify(self, kind: str, data: Mapping[str, Any]) -> None:
        """Queue a webhook event in this transaction's outbox (delivered by service.webhooks)."""
        now = self.clock.now()
        event_id = str(uuid.uuid4())
        payload = {"id": event_id, "type": kind, "occurred_at": rfc3339(now), "data": dict(data)}
        self.session.add(WebhookEvent(id=event_id, kind=kind, payload=payload, created_at=now))

    def after_commit(self, hook: Hook) -> None:
        """Run ``hook`` once this transaction has committed (never if it rolls back)."""
        self._hooks.append(hook)

    async def serialize(self, name: str) -> None:
        """Hold a named lock until the transaction ends (PostgreSQL; SQLite is serial).

        For the rare counters (folios, document versions) that need one writer at a
        time; never the chain's lock, which is only taken at commit.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            key = zlib.crc32(name.encode()) & 0x7FFFFFFF
            await self.session.execute(text("SELECT pg_advisory_xact_lock(1, :k)"), {"k": key})

    async def chain_head(self) -> tuple[int, str]:
        """Lock the chain now and answer its head: (seq, hash) of the last committed event.

        For a record that must name the event just before its own (a closed acta,
        a protocol version): nothing can be appended between this read and this
        transaction's own entries. Call it last, after every row lock.
        """
        await lock_chain(self.session)
        return await head(self.session)

    async def flush(self) -> None:
        """Send pending ORM changes (row locks and constraint checks happen here)."""
        await self.session.flush()

    async def _append_records(self) -> None:
        await self.session.flush()
        if not self._records:
            return
        await lock_chain(self.session)
        for recorded in self._records:
            event = await append(self.session, recorded.caller, recorded.entry, self.clock)
            recorded.seq = event.seq
        seqs = [r.seq for r in self._records if r.seq is not None]
        self._seqs = (min(seqs), max(seqs))


class _Runtime(Protocol):
    """What a unit of work needs of the Runtime (service.runtime)."""

    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    settings: Settings
    handlers: Handlers

    def committed(self, seqs: tuple[int, int] | None) -> None: ...


@asynccontextmanager
async def begin_unit_of_work(rt: _Runtime, caller: Caller) -> AsyncIterator[UnitOfWork]:
    """A write transaction: committed on exit (events appended last), rolled back on error."""
    async with rt.sessions() as session:
        uow = UnitOfWork(session, caller, rt.clock, rt.settings, rt.handlers)
        async with session.begin():
            yield uow
            await uow._append_records()
    rt.committed(uow._seqs)
    for hook in uow._hooks:
        result = hook()
        if result is not None:
            await result


@asynccontextmanager
async def begin_reader(
    readers: async_sessionmaker[AsyncSession], clock: Clock
) -> AsyncIterator[Reader]:
    """A read-only transaction (service.db.engine.make_reader_maker says how it begins)."""
    async with readers() as session, session.begin():
        yield Reader(session, clock)
