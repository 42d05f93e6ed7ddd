"""SQL of the public directory: listed accounts and their gestores, one query each."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select

from service.db.models import Account, Assignment, Gestor
from service.db.work import Repository
from service.domain.accounts import MAX_HIERARCHY_LEVEL, MIN_HIERARCHY_LEVEL

# Columns the directory needs; the Quinta level filter is pushed into SQL.
_LISTED = (
    select(
        Account.id,
        Account.area,
        Account.platform,
        Account.kind,
        Account.display_name,
        Account.handle,
        Account.url,
        Account.verified,
        Account.updated_at,
        Account.term_ends_on,
    )
    .where(Account.retired_at.is_(None), Account.in_directory.is_(True))
    .where(
        or_(
            Account.kind == "oficial",
            Account.hierarchy_level.between(MIN_HIERARCHY_LEVEL, MAX_HIERARCHY_LEVEL),
        )
    )
    .order_by(Account.area, Account.platform, Account.handle, Account.id)
)


class DirectoryRepository(Repository):
    async def listed_accounts(self) -> Sequence[Any]:
        """Live accounts in the directory, official or of a listable rank, in a stable order."""
        # Core execution on the session's connection: no ORM bookkeeping for 100,000 rows.
        conn = await self.session.connection()
        return (await conn.execute(_LISTED)).all()

    async def gestores(self) -> dict[str, list[tuple[str, str, str, str]]]:
        """Public facts of the gestores with access, grouped by account: one query."""
        query = (
            select(Assignment.account_id, Gestor.name, Gestor.kind, Gestor.cargo, Gestor.provider)
            .join(Gestor, Gestor.id == Assignment.gestor_id)
            .join(Account, Account.id == Assignment.account_id)
            .where(Assignment.ended_at.is_(None), Gestor.departed_at.is_(None))
            .where(Account.retired_at.is_(None), Account.in_directory.is_(True))
            .order_by(Assignment.account_id, Gestor.name, Gestor.id)
        )
        grouped: dict[str, list[tuple[str, str, str, str]]] = defaultdict(list)
        for account_id, name, kind, cargo, provider in await self.session.execute(query):
            grouped[account_id].append((name, kind, cargo or "", provider or ""))
        return grouped
