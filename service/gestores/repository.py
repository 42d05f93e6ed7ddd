"""Persistence of gestores and their assignments."""

from __future__ import annotations

from sqlalchemy import select

from service.db.models import Assignment, Gestor
from service.db.work import Repository


class GestorRepository(Repository):
    async def get(self, gestor_id: str, *, lock: bool = False) -> Gestor | None:
        query = select(Gestor).where(Gestor.id == gestor_id)
        if lock:
            query = query.with_for_update(key_share=True)
        return (await self.session.scalars(query)).first()

    async def list_all(self, *, include_departed: bool) -> list[Gestor]:
        query = select(Gestor).order_by(Gestor.created_at, Gestor.id)
        if not include_departed:
            query = query.where(Gestor.departed_at.is_(None))
        return list(await self.session.scalars(query))

    async def active_assignment(self, account_id: str, gestor_id: str) -> Assignment | None:
        return (
            await self.session.scalars(
                select(Assignment)
                .where(Assignment.account_id == account_id)
                .where(Assignment.gestor_id == gestor_id)
                .where(Assignment.ended_at.is_(None))
            )
        ).first()

    async def assignments_of_account(self, account_id: str) -> list[Assignment]:
        return list(
            await self.session.scalars(
                select(Assignment)
                .where(Assignment.account_id == account_id)
                .order_by(Assignment.assigned_at, Assignment.id)
            )
        )
