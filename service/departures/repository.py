"""The SQL a departure needs: the gestor, its assignments, retrievals and last rotations."""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy import func, select

from service.db.models import Account, Assignment, Checkout, CredentialVersion, Gestor
from service.db.work import Repository
from service.departures.schemas import CaseFile
from service.domain import rotation as rules


class DepartureRepository(Repository):
    async def gestor(self, gestor_id: str, *, lock: bool = False) -> Gestor | None:
        """The gestor row; locked on PostgreSQL so two departures of one gestor serialise."""
        return await self.session.get(
            Gestor, gestor_id, with_for_update={"key_share": True} if lock else None
        )

    async def departed_gestores(self) -> list[Gestor]:
        query = select(Gestor).where(Gestor.departed_at.is_not(None))
        return list(await self.session.scalars(query))

    @staticmethod
    def case_file(gestor: Gestor) -> CaseFile | None:
        """The stored case file, or None before the departure."""
        stored = gestor.departure_case_file
        return None if stored is None else msgspec.convert(stored, CaseFile)

    @staticmethod
    def store_case_file(gestor: Gestor, case: CaseFile) -> None:
        # A new dict each time, so SQLAlchemy sees the JSON column change.
        gestor.departure_case_file = msgspec.to_builtins(case)

    async def share_lock_accounts(self, account_ids: list[str]) -> None:
        """Share-lock account rows in id order: taken before any row that hangs from them.

        Rotations share-lock each account again when they open its obligation;
        taking them all here, before the checkouts close, keeps one order against
        a credential write (account, then its checkout).
        """
        if not account_ids:
            return
        query = (
            select(Account.id)
            .where(Account.id.in_(account_ids))
            .order_by(Account.id)
            .with_for_update(read=True)
        )
        await self.session.execute(query)

    async def end_assignments(self, gestor_id: str, at: datetime) -> list[str]:
        """End every active assignment at ``at``; return their account ids."""
        query = (
            select(Assignment)
            .where(Assignment.gestor_id == gestor_id)
            .where(Assignment.ended_at.is_(None))
            .with_for_update(key_share=True)
        )
        ended: list[str] = []
        for row in await self.session.scalars(query):
            # A backdated departure never ends an assignment before it began.
            row.ended_at = max(at, row.assigned_at)
            row.ended_reason = "gestor_departure"
            ended.append(row.account_id)
        await self.session.flush()
        return ended

    async def first_assignment(self, gestor_id: str) -> datetime | None:
        """When the gestor's earliest assignment (ended or not) began; None if never assigned."""
        value: datetime | None = await self.session.scalar(
            select(func.min(Assignment.assigned_at)).where(Assignment.gestor_id == gestor_id)
        )
        return value

    async def assignments(self, gestor_id: str) -> list[rules.Assignment[str]]:
        query = select(Assignment).where(Assignment.gestor_id == gestor_id)
        return [
            rules.Assignment(r.account_id, r.assigned_at, r.ended_at)
            for r in await self.session.scalars(query)
        ]

    async def last_rotations(self, account_ids: list[str]) -> dict[str, datetime | None]:
        """Vault created_time of each account's latest rotation (a new password)."""
        if not account_ids:
            return {}
        query = (
            select(CredentialVersion.account_id, func.max(CredentialVersion.created_time))
            .where(CredentialVersion.account_id.in_(account_ids))
            .where(CredentialVersion.is_rotation.is_(True))
            .group_by(CredentialVersion.account_id)
        )
        rows = await self.session.execute(query)
        return {account: at for account, at in rows if at is not None}

    async def retrievals(self, gestor_id: str) -> list[rules.Retrieval[str]]:
        """Every checkout granted to the gestor: each one handed over the password."""
        query = select(Checkout.account_id, Checkout.granted_at).where(
            Checkout.gestor_id == gestor_id
        )
        rows = await self.session.execute(query)
        return [rules.Retrieval(account, at) for account, at in rows]

    async def account_labels(self, account_ids: list[str]) -> dict[str, tuple[str, str]]:
        if not account_ids:
            return {}
        query = select(Account.id, Account.platform, Account.handle).where(
            Account.id.in_(account_ids)
        )
        return {r[0]: (r[1], r[2]) for r in await self.session.execute(query)}
