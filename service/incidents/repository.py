"""Persistence of incidents and the visibility checks their reporting needs."""

from __future__ import annotations

from sqlalchemy import select

from service.db.models import Account, Assignment, Incident
from service.db.work import Repository


class IncidentRepository(Repository):
    async def get(self, incident_id: str) -> Incident | None:
        return await self.session.get(Incident, incident_id)

    async def recent(self, limit: int) -> list[Incident]:
        query = select(Incident).order_by(Incident.created_at.desc(), Incident.id).limit(limit)
        return list(await self.session.scalars(query))

    async def existing_accounts(self, account_ids: list[str]) -> set[str]:
        query = select(Account.id).where(Account.id.in_(account_ids))
        return set(await self.session.scalars(query))

    async def assigned_accounts(self, gestor_id: str, account_ids: list[str]) -> set[str]:
        """Those of ``account_ids`` the gestor is assigned to right now."""
        query = (
            select(Assignment.account_id)
            .where(Assignment.gestor_id == gestor_id)
            .where(Assignment.ended_at.is_(None))
            .where(Assignment.account_id.in_(account_ids))
        )
        return set(await self.session.scalars(query))
