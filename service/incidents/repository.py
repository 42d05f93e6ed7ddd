"""Persistence of incidents and the visibility checks their reporting needs."""

from __future__ import annotations

from sqlalchemy import select

from service.db.models import Account, Assignment, Incident
from service.db.work import Repository


class IncidentRepository(Repository):
    async def get(self, incident_id: str) -> Incident | None:
        return await self.session.get(Incident, incident_id)

    async def add(self, incident: Incident) -> None:
        self.session.add(incident)
        await self.session.flush()

    async def recent(self, limit: int) -> list[Incident]:
        query = select(Incident).order_by(Incident.created_at.desc(), Incident.id).limit(limit)
        return list(await self.session.scalars(query))

    async def lock_accounts(self, account_ids: list[str]) -> None:
        """Lock the affected account rows, in id order, as whoever ends access does.

        A checkout grant share-locks its account before it re-reads access, so
        either its checkout committed before (and is closed here) or it waits and
        opens after the incident, owing the new rotation.
        """
        query = (
            select(Account.id)
            .where(Account.id.in_(account_ids))
            .order_by(Account.id)
            .with_for_update(key_share=True)
        )
        await self.session.execute(query)

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
