"""SQL of entrega-recepción: handovers rows, the rows a handover locks and moves, its annex facts.

Lock order (service.uow): the área's account rows (by id), then the gestors' rows
(by id), then the assignments hanging from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from service.db.models import Account, Assignment, Checkout, CredentialVersion, Gestor, Handover
from service.db.work import Repository


class HandoverRepository(Repository):
    async def get(self, handover_id: str, *, lock: bool = False) -> Handover | None:
        query = select(Handover).where(Handover.id == handover_id)
        if lock:
            query = query.with_for_update(key_share=True)
        return (await self.session.scalars(query)).first()

    async def list_all(self, area: str | None, limit: int) -> list[Handover]:
        query = select(Handover).order_by(Handover.created_at.desc(), Handover.folio.desc())
        if area is not None:
            query = query.where(Handover.area == area)
        return list(await self.session.scalars(query.limit(limit)))

    async def add(self, row: Handover) -> None:
        self.session.add(row)
        await self.session.flush()

    async def next_folio(self, year: int) -> str:
        """ER-<year>-<n>; the caller serialises folios (``uow.serialize``) before counting."""
        prefix = f"ER-{year}-"
        count = await self.session.scalar(
            select(func.count()).select_from(Handover).where(Handover.folio.like(f"{prefix}%"))
        )
        return f"{prefix}{int(count or 0) + 1:04d}"

    async def previous_start(self, area: str) -> datetime | None:
        """When the área's previous handover started: the annex counts checkouts since."""
        value: datetime | None = await self.session.scalar(
            select(func.max(Handover.started_at)).where(Handover.area == area)
        )
        return value

    async def area_since(self, area: str) -> datetime | None:
        """When the área's first account was registered, retired ones included; None: none."""
        value: datetime | None = await self.session.scalar(
            select(func.min(Account.created_at)).where(Account.area == area)
        )
        return value

    async def lock_live_accounts(self, area: str) -> list[Account]:
        """The área's live accounts, locked in id order; listed by platform, then id.

        Locking them ends access to them for this transaction: a checkout grant
        reads the account with a share lock, so it waits, then sees the change.
        """
        locked = (
            select(Account.id)
            .where(Account.area == area, Account.retired_at.is_(None))
            .order_by(Account.id)
            .with_for_update(key_share=True)
        )
        ids = list(await self.session.scalars(locked))
        if not ids:
            return []
        query = select(Account).where(Account.id.in_(ids))
        return list(
            await self.session.scalars(query.order_by(Account.area, Account.platform, Account.id))
        )

    async def lock_gestores(self, gestor_ids: Sequence[str]) -> dict[str, Gestor]:
        """The gestors' rows, locked in id order (after the account rows)."""
        query = (
            select(Gestor)
            .where(Gestor.id.in_(list(gestor_ids)))
            .order_by(Gestor.id)
            .with_for_update(key_share=True)
        )
        return {g.id: g for g in await self.session.scalars(query)}

    # -- assignments: moves to gestores.assignments (one repository per table) ----------

    async def end_assignments(
        self, gestor_id: str, account_ids: list[str], at: datetime
    ) -> list[tuple[str, str]]:
        """End the gestor's active assignments on these accounts: (assignment id, account id).

        The rows are locked, in id order, and never end before they began.
        Moves to gestores.assignments.
        """
        query = (
            select(Assignment)
            .where(
                Assignment.gestor_id == gestor_id,
                Assignment.account_id.in_(account_ids),
                Assignment.ended_at.is_(None),
            )
            .order_by(Assignment.id)
            .with_for_update(key_share=True)
        )
        ended: list[tuple[str, str]] = []
        for row in await self.session.scalars(query):
            row.ended_at = max(at, row.assigned_at)
            row.ended_reason = "handover"
            ended.append((row.id, row.account_id))
        await self.session.flush()
        return ended

    async def assigned_accounts(self, gestor_id: str, account_ids: list[str]) -> set[str]:
        """The accounts the gestor is assigned to now, of these. Moves to gestores.assignments."""
        result = await self.session.scalars(
            select(Assignment.account_id).where(
                Assignment.gestor_id == gestor_id,
                Assignment.account_id.in_(account_ids),
                Assignment.ended_at.is_(None),
            )
        )
        return set(result)

    async def add_assignment(self, row: Assignment) -> bool:
        """Insert an assignment; False when a concurrent one of the same pair won.

        The partial unique index decides, inside a savepoint. Moves to gestores.assignments.
        """
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    # -- facts the annex states ------------------------------------------------------

    async def last_rotations(self, account_ids: Sequence[str]) -> dict[str, tuple[datetime, str]]:
        """The newest rotation version of each account: (created_time, reason)."""
        newest = (
            select(CredentialVersion.account_id, func.max(CredentialVersion.version).label("v"))
            .where(CredentialVersion.is_rotation.is_(True))
            .where(CredentialVersion.account_id.in_(list(account_ids)))
            .group_by(CredentialVersion.account_id)
            .subquery()
        )
        query = select(
            CredentialVersion.account_id, CredentialVersion.created_time, CredentialVersion.reason
        ).join(
            newest,
            (newest.c.account_id == CredentialVersion.account_id)
            & (newest.c.v == CredentialVersion.version),
        )
        return {a: (t, r) for a, t, r in await self.session.execute(query)}

    async def checkout_counts(
        self, account_ids: Sequence[str], *, since: datetime | None, until: datetime
    ) -> dict[str, int]:
        """Checkouts granted per account in [since, until]."""
        query = (
            select(Checkout.account_id, func.count())
            .where(Checkout.account_id.in_(list(account_ids)), Checkout.granted_at <= until)
            .group_by(Checkout.account_id)
        )
        if since is not None:
            query = query.where(Checkout.granted_at >= since)
        return {a: int(n) for a, n in await self.session.execute(query)}

    async def last_retrievals(
        self, account_ids: Sequence[str], gestor_id: str
    ) -> dict[str, datetime]:
        """The gestor's last checkout of each account."""
        query = (
            select(Checkout.account_id, func.max(Checkout.granted_at))
            .where(Checkout.account_id.in_(list(account_ids)), Checkout.gestor_id == gestor_id)
            .group_by(Checkout.account_id)
        )
        return {a: t for a, t in await self.session.execute(query) if t is not None}
