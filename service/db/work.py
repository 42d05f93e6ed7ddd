"""What a repository is built on: a unit of work or a reader, never a bare session."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class Work(Protocol):
    """A unit of work (service.uow.UnitOfWork) or a read-only Reader: both hold a session."""

    @property
    def session(self) -> AsyncSession: ...


class Repository:
    """Base of every repository: built on a unit of work or a reader.

    Service code passes the unit of work or reader; tests may pass a bare session
    to read what a request left behind.
    """

    def __init__(self, work: Work | AsyncSession) -> None:
        self.session: AsyncSession = work if isinstance(work, AsyncSession) else work.session
