"""Which backup codes left custody: read from their audit events, the one record of them.

The ``checkout.backup_code_revealed`` event is the record, not a copy of it: no
second table can disagree with the chain, and the chain is append-only and
verified, so a reveal can be neither erased (to hand a code out twice) nor hidden
from a departure. Reveals of one account are serialised by the row lock on its
one open checkout; a set holds a handful of codes, so reading its events is cheap
(``ix_audit_events_account_seq``).
"""

from __future__ import annotations

import json

from sqlalchemy import select

from service.db.models import Account, AuditEvent
from service.db.work import Repository
from service.domain.exposure import BACKUP_CODE_REVEALED, revealed_index, set_by_version


class RevealRepository(Repository):
    async def codes_since(self, account_id: str) -> int | None:
        """The version that set the account's current backup codes (None: no credential)."""
        query = select(Account.backup_codes_version, Account.credential_version).where(
            Account.id == account_id
        )
        row = (await self.session.execute(query)).first()
        return None if row is None else set_by_version(row[0], row[1])

    async def revealed(self, account_id: str, since: int) -> set[int]:
        """The indexes already revealed from the set current since version ``since``."""
        query = select(AuditEvent.details).where(
            AuditEvent.account_id == account_id,
            AuditEvent.action == BACKUP_CODE_REVEALED,
            AuditEvent.outcome == "ok",
        )
        found = (revealed_index(json.loads(d), since) for d in await self.session.scalars(query))
        return {index for index in found if index is not None}
