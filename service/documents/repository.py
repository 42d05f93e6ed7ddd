"""Read-only SQL of the documents: set-based queries, never one per account.

Nothing here calls Vault: credential facts come from the columns custody keeps
in SQL (``accounts.credential_*``). Entrega-recepción reads its pending matters
and holders through this repository too (handovers import documents, never back).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func, select

from service.db.models import Account, Assignment, AuditEvent, Gestor, RotationObligation
from service.db.work import Repository
from service.documents.content import Obligation
from service.rotations.repository import still_owed

PROTOCOL_ACTION = "document.security_protocol"


class DocumentRepository(Repository):
    async def live_accounts(self) -> list[Account]:
        """Accounts not retired, in a stable order."""
        query = select(Account).where(Account.retired_at.is_(None))
        return list(
            await self.session.scalars(query.order_by(Account.area, Account.platform, Account.id))
        )

    async def holders_by_account(
        self, account_ids: Sequence[str] | None = None
    ) -> dict[str, list[Gestor]]:
        """Active assignments of gestores who have not departed, grouped by account: one query."""
        query = (
            select(Assignment.account_id, Gestor)
            .join(Gestor, Gestor.id == Assignment.gestor_id)
            .join(Account, Account.id == Assignment.account_id)
            .where(Assignment.ended_at.is_(None), Gestor.departed_at.is_(None))
            .where(Account.retired_at.is_(None))
            .order_by(Assignment.account_id, Gestor.name, Gestor.id)
        )
        if account_ids is not None:
            query = query.where(Assignment.account_id.in_(list(account_ids)))
        grouped: dict[str, list[Gestor]] = defaultdict(list)
        for account_id, gestor in await self.session.execute(query):
            grouped[account_id].append(gestor)
        return grouped

    async def open_obligations(
        self, account_ids: Sequence[str] | None = None
    ) -> dict[str, list[Obligation]]:
        """Owed obligations (neither satisfied nor withdrawn) of live accounts, by account."""
        query = (
            select(RotationObligation, Account.platform, Account.handle)
            .join(Account, Account.id == RotationObligation.account_id)
            .where(still_owed(), Account.retired_at.is_(None))
            .order_by(RotationObligation.due_at, RotationObligation.id)
        )
        if account_ids is not None:
            query = query.where(RotationObligation.account_id.in_(list(account_ids)))
        grouped: dict[str, list[Obligation]] = defaultdict(list)
        for row, platform, handle in await self.session.execute(query):
            grouped[row.account_id].append(
                Obligation(row.id, platform, handle, row.reason, row.triggered_at, row.due_at)
            )
        return grouped

    async def protocol_generations(self) -> int:
        """How many protocols were generated before: the next version is this plus one.

        The caller serialises generations (``uow.serialize``) before counting.
        """
        count = await self.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == PROTOCOL_ACTION)
        )
        return int(count or 0)
