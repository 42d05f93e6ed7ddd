"""The live collaborators of one app instance, built by the app factory and injected."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.audit.log import Entry, append, lock_chain
from service.clock import Clock, SystemClock
from service.db.engine import make_engine, make_session_maker
from service.logs.observability import Metrics
from service.principal import Caller
from service.settings import Settings
from service.vault.client import Vault


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    vault: Vault
    metrics: Metrics = field(default_factory=Metrics)
    # Set after a commit whose events cross a checkpoint boundary (service.audit.checkpoints).
    checkpoint_due: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        await self.vault.login()

    async def stop(self) -> None:
        await self.vault.close()
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self, *, chain_lock: bool = True) -> AsyncIterator[AsyncSession]:
        """One database transaction: committed on exit, rolled back on error.

        Its first act is to take the audit chain's lock (see ``lock_chain``).
        ``chain_lock=False`` only for a transaction that appends no event and
        locks no row that a chain-locked transaction locks (the webhook outbox).
        """
        async with self.sessions() as session:
            async with session.begin():
                if chain_lock:
                    await lock_chain(session)
                yield session
            self._after_commit(session.info)

    def _after_commit(self, info: dict[str, object]) -> None:
        first, last = info.get("audit_first_seq"), info.get("audit_last_seq")
        if isinstance(first, int) and isinstance(last, int):
            every = self.settings.checkpoint_every_events
            if last // every > (first - 1) // every:
                self.checkpoint_due.set()

    async def record(self, caller: Caller, entry: Entry) -> None:
        """Commit an audit event on its own, e.g. a refusal whose action changed nothing."""
        async with self.transaction() as session:
            await append(session, caller, entry, self.clock)


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    """Collaborators shared by the app, the CLI and the tests."""
    engine = make_engine(settings.database_url, settings.database_pool_size)
    return Runtime(
        settings=settings,
        clock=clock or SystemClock(),
        engine=engine,
        sessions=make_session_maker(engine),
        vault=Vault(settings),
        metrics=Metrics(),
    )
