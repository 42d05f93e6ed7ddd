"""SQL of the ``throttles`` table: fixed-window counters of refusals, upserted atomically."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from service.db.models import Throttle
from service.db.work import Repository
from service.throttling.policy import ThrottleKey

_TABLE = cast(Table, Throttle.__table__)
_PK = [_TABLE.c.window_start, _TABLE.c.kind, _TABLE.c.key]


def _count_statement(dialect: str, rows: list[dict[str, Any]]) -> Any:
    """INSERT … ON CONFLICT DO UPDATE … RETURNING: the same SQL on both databases."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_TABLE).values(rows)
    return statement.on_conflict_do_update(
        index_elements=_PK, set_={"refusals": _TABLE.c.refusals + 1}
    ).returning(_TABLE.c.kind, _TABLE.c.key, _TABLE.c.refusals)


class ThrottleRepository(Repository):
    async def count(self, keys: Sequence[ThrottleKey], window: datetime) -> dict[ThrottleKey, int]:
        """Add one refusal to each key's counter in ``window``; every key's count now.

        One statement for all keys, in key order: two requests counting the same
        keys take their row locks in the same order (PostgreSQL).
        """
        rows = [
            {"window_start": window, "kind": k.kind, "key": k.digest, "refusals": 1}
            for k in sorted(set(keys))
        ]
        dialect = self.session.get_bind().dialect.name
        result = await self.session.execute(_count_statement(dialect, rows))
        return {ThrottleKey(row.kind, row.key): row.refusals for row in result}

    async def counts(
        self, keys: Sequence[ThrottleKey], window: datetime
    ) -> dict[ThrottleKey, tuple[int, bool]]:
        """(refusals, summarised) of the keys that have a counter in ``window``."""
        statement = select(_TABLE.c.kind, _TABLE.c.key, _TABLE.c.refusals, _TABLE.c.summarised)
        statement = statement.where(
            _TABLE.c.window_start == window,
            tuple_(_TABLE.c.kind, _TABLE.c.key).in_([(k.kind, k.digest) for k in keys]),
        )
        result = await self.session.execute(statement)
        return {ThrottleKey(r.kind, r.key): (r.refusals, r.summarised) for r in result}

    async def claim_summary(self, key: ThrottleKey, window: datetime) -> int | None:
        """Mark the window summarised; its refusals if this call did it, else None.

        The first claimant wins on every database: a concurrent one waits for the
        row and then finds it already marked.
        """
        statement = (
            update(_TABLE)
            .where(
                _TABLE.c.window_start == window,
                _TABLE.c.kind == key.kind,
                _TABLE.c.key == key.digest,
                _TABLE.c.summarised.is_(False),
            )
            .values(summarised=True)
            .returning(_TABLE.c.refusals)
        )
        refusals: int | None = (await self.session.execute(statement)).scalar_one_or_none()
        return refusals

    async def forget_before(self, window: datetime) -> int:
        """Delete the counters of windows that started before ``window``."""
        result = await self.session.execute(delete(_TABLE).where(_TABLE.c.window_start < window))
        return int(getattr(result, "rowcount", 0) or 0)
