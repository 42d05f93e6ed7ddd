"""The live collaborators of one app instance, built by the app factory and injected."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.audit.log import Entry
from service.clock import Clock, SystemClock
from service.db.engine import make_engine, make_reader_maker, make_session_maker
from service.logs.observability import Metrics
from service.principal import Caller
from service.settings import Settings
from service.uow import Handlers, Reader, UnitOfWork, begin_reader, begin_unit_of_work
from service.vault.client import Vault


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    readers: async_sessionmaker[AsyncSession]
    vault: Vault
    metrics: Metrics = field(default_factory=Metrics)
    # Which handlers react to which domain event (service.bus).
    handlers: Handlers = field(default_factory=dict)
    # Set after a commit whose events cross a checkpoint boundary (service.audit.checkpoints).
    checkpoint_due: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        await self.vault.login()

    async def stop(self) -> None:
        await self.vault.close()
        await self.engine.dispose()

    def unit_of_work(self, caller: Caller) -> AbstractAsyncContextManager[UnitOfWork]:
        """One write transaction (see service.uow)."""
        return begin_unit_of_work(self, caller)

    def reader(self) -> AbstractAsyncContextManager[Reader]:
        """One read-only transaction: no chain lock, no audit entries."""
        return begin_reader(self.readers, self.clock)

    def committed(self, seqs: tuple[int, int] | None) -> None:
        """After a commit: wake the checkpoint job when the events crossed a boundary."""
        if seqs is not None:
            first, last = seqs
            every = self.settings.checkpoint_every_events
            if last // every > (first - 1) // every:
                self.checkpoint_due.set()

    async def record(self, caller: Caller, entry: Entry) -> None:
        """Commit an audit event on its own, e.g. a refusal whose action changed nothing."""
        async with self.unit_of_work(caller) as uow:
            uow.record(entry)


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    """Collaborators shared by the app, the CLI and the tests."""
    from service.bus import HANDLERS  # the bus imports every feature's handlers

    engine = make_engine(
        settings.database_url,
        settings.database_pool_size,
        statement_timeout_ms=settings.database_statement_timeout_ms,
        lock_timeout_ms=settings.database_lock_timeout_ms,
    )
    return Runtime(
        settings=settings,
        clock=clock or SystemClock(),
        engine=engine,
        sessions=make_session_maker(engine),
        readers=make_reader_maker(engine),
        vault=Vault(settings),
        metrics=Metrics(),
        handlers=HANDLERS,
    )
