"""Persistence of accounts."""

from __future__ import annotations

from sqlalchemy import select

from service.db.models import Account
from service.db.work import Repository


class AccountRepository(Repository):
    async def get(
        self, account_id: str, *, lock: bool = False, share: bool = False
    ) -> Account | None:
        """The account; ``lock`` holds it to change it, ``share`` so that changes wait.

        ``lock`` is FOR NO KEY UPDATE; ``share`` is FOR SHARE: a reader whose
        decision rests on the row (not retired, still holdable) keeps whoever
        retires or edits it waiting until this transaction ends.
        """
        query = select(Account).where(Account.id == account_id)
        if lock:
            query = query.with_for_update(key_share=True)
        elif share:
            query = query.with_for_update(read=True)
        return (await self.session.scalars(query)).first()

    async def list_all(
        self, *, area: str | None, kind: str | None, include_retired: bool
    ) -> list[Account]:
        query = select(Account).order_by(Account.created_at, Account.id)
        if area is not None:
            query = query.where(Account.area == area)
        if kind is not None:
            query = query.where(Account.kind == kind)
        if not include_retired:
            query = query.where(Account.retired_at.is_(None))
        return list(await self.session.scalars(query))

    def add(self, account: Account) -> None:
        self.session.add(account)
