"""Persistence of gestores (their assignments: service.gestores.assignments)."""

from __future__ import annotations

from sqlalchemy import select

from service.db.models import Gestor
from service.db.work import Repository


class GestorRepository(Repository):
    async def get(self, gestor_id: str, *, lock: bool = False) -> Gestor | None:
        """The gestor; ``lock`` holds the row (FOR NO KEY UPDATE) to change it."""
        query = select(Gestor).where(Gestor.id == gestor_id)
        if lock:
            query = query.with_for_update(key_share=True)
        return (await self.session.scalars(query)).first()

    async def list_all(self, *, include_departed: bool) -> list[Gestor]:
        query = select(Gestor).order_by(Gestor.created_at, Gestor.id)
        if not include_departed:
            query = query.where(Gestor.departed_at.is_(None))
        return list(await self.session.scalars(query))

    def add(self, gestor: Gestor) -> None:
        self.session.add(gestor)
