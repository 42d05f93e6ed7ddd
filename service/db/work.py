"""What a repository is built on: a unit of work or a reader, never a bare session."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class Work(Protocol):
    """A unit of work (service.uow.UnitOfWork) or a read-only Reader: both hold a session."""

    @property
    def session(self) -> AsyncSession: ...
