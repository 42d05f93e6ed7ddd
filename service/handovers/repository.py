"""SQL of entrega-recepción: handovers rows and the assignments a handover moves."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update

from service.db.models import Assignment, Gestor, Handover
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

    async def next_folio(self, year: int) -> str:
        """ER-<year>-<n>: called under the audit lock, so two handovers never share one."""
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

    async def gestor(self, gestor_id: str) -> Gestor | None:
        return await self.session.get(Gestor, gestor_id, with_for_update={"key_share": True})

    async def end_assignments(
        self, gestor_id: str, account_ids: list[str], at: datetime
    ) -> list[tuple[str, str]]:
        """End the gestor's active assignments on these accounts: (assignment id, account id)."""
        rows = (
            await self.session.execute(
                select(Assignment.id, Assignment.account_id).where(
                    Assignment.gestor_id == gestor_id,
                    Assignment.account_id.in_(account_ids),
                    Assignment.ended_at.is_(None),
                )
            )
        ).all()
        if rows:
            await self.session.execute(
                update(Assignment)
                .where(Assignment.id.in_([r.id for r in rows]))
                .values(ended_at=at, ended_reason="handover")
            )
        return [(r.id, r.account_id) for r in rows]

    async def assigned_accounts(self, gestor_id: str, account_ids: list[str]) -> set[str]:
        result = await self.session.scalars(
            select(Assignment.account_id).where(
                Assignment.gestor_id == gestor_id,
                Assignment.account_id.in_(account_ids),
                Assignment.ended_at.is_(None),
            )
        )
        return set(result)
