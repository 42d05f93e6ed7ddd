"""The assignments table: which gestor runs which account, and since when.

Every feature that starts or ends an assignment goes through here, so the rules
hold everywhere: a row is locked before it ends, it never ends before it began
(a backdated departure is clamped to ``assigned_at``), and an ended row stays
ended (a new assignment is a new row; the partial unique index allows one
active row per account and gestor).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service.db.models import Assignment
from service.db.work import Repository
from service.domain import rotation as rules


class AssignmentEnded(Exception):
    """An ended assignment was about to be ended again (it would move its end)."""


def end(row: Assignment, at: datetime, reason: str) -> None:
    """End an active assignment at ``at``, never before it began."""
    if row.ended_at is not None:
        raise AssignmentEnded(f"Assignment {row.id} already ended ({row.ended_reason})")
    row.ended_at = max(at, row.assigned_at)
    row.ended_reason = reason


class AssignmentRepository(Repository):
    async def add(self, row: Assignment) -> bool:
        """Insert a new assignment; False when the pair is already actively assigned.

        The partial unique index, not a prior read, decides a concurrent duplicate;
        the savepoint keeps the transaction usable after the refusal.
        """
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def end_active(
        self,
        gestor_id: str,
        *,
        at: datetime,
        reason: str,
        account_ids: Sequence[str] | None = None,
    ) -> list[Assignment]:
        """End the gestor's active assignments (on ``account_ids``, or all), locked first.

        Ordered by account: the rows are locked in one order. A row another
        transaction ended while this one waited for its lock no longer matches
        (PostgreSQL re-checks the condition on the locked row), and rows already
        in this session are refreshed, so an ended row is never ended again.
        """
        query = (
            select(Assignment)
            .where(Assignment.gestor_id == gestor_id, Assignment.ended_at.is_(None))
            .order_by(Assignment.account_id, Assignment.id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
        if account_ids is not None:
            query = query.where(Assignment.account_id.in_(account_ids))
        ended = list(await self.session.scalars(query))
        for row in ended:
            end(row, at, reason)
        await self.session.flush()
        return ended

    async def active_accounts(self, gestor_id: str, account_ids: Sequence[str]) -> set[str]:
        """Those of ``account_ids`` the gestor is assigned to right now."""
        query = select(Assignment.account_id).where(
            Assignment.gestor_id == gestor_id,
            Assignment.ended_at.is_(None),
            Assignment.account_id.in_(account_ids),
        )
        return set(await self.session.scalars(query))

    async def of_account(self, account_id: str) -> list[Assignment]:
        """Every assignment of the account, ended ones included, oldest first."""
        query = (
            select(Assignment)
            .where(Assignment.account_id == account_id)
            .order_by(Assignment.assigned_at, Assignment.id)
        )
        return list(await self.session.scalars(query))

    async def periods_of_gestor(self, gestor_id: str) -> list[rules.Assignment[str]]:
        """Every period the gestor was assigned to an account, as the rotation rules read it."""
        query = (
            select(Assignment)
            .where(Assignment.gestor_id == gestor_id)
            .order_by(Assignment.assigned_at, Assignment.id)
        )
        return [
            rules.Assignment(r.account_id, r.assigned_at, r.ended_at)
            for r in await self.session.scalars(query)
        ]
