"""Persistence of accounts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service.db.models import Account
from service.db.work import Repository
from service.domain.handles import handle_key


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

    async def live_with_handle(
        self, platform: str, key: str, *, excluding: str | None = None
    ) -> Account | None:
        """The live account whose handle has ``key`` on ``platform``, other than ``excluding``.

        Live duplicates that migration 0004 left unkeyed are keyed here, in Python:
        they are few, and a new account must not join them.
        """
        live = select(Account).where(Account.platform == platform, Account.retired_at.is_(None))
        if excluding is not None:
            live = live.where(Account.id != excluding)
        found = (await self.session.scalars(live.where(Account.handle_key == key))).first()
        if found is not None:
            return found
        unkeyed = await self.session.scalars(
            live.where(Account.handle_key.is_(None)).order_by(Account.created_at, Account.id)
        )
        return next((a for a in unkeyed if handle_key(a.platform, a.handle) == key), None)

    async def save(self, account: Account) -> bool:
        """Add or flush ``account``; False when the live-handle index refuses it.

        The index, not the prior read, decides between concurrent writers; the
        savepoint keeps the transaction usable after the refusal.
        """
        try:
            async with self.session.begin_nested():
                self.session.add(account)
                await self.session.flush()
        except IntegrityError:
            return False
        return True
