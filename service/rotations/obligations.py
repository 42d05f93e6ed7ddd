"""The obligation's public shape, as the API and webhooks show it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from service.clock import rfc3339
from service.db.models import RotationObligation
from service.domain.exposure import stored_requires
from service.domain.rotation import obligation_status
from service.rotations.schemas import ObligationOut, OriginOut


def _ts(value: datetime | None) -> str | None:
    return None if value is None else rfc3339(value)


def obligation_out(row: RotationObligation, now: datetime) -> ObligationOut:
    """The obligation as the API and webhooks show it; status derived from the clock."""
    return ObligationOut(
        id=row.id,
        account_id=row.account_id,
        reason=row.reason,
        triggered_by=row.triggered_by,
        triggered_at=rfc3339(row.triggered_at),
        due_at=rfc3339(row.due_at),
        status=obligation_status(row.due_at, row.satisfied_at, now, row.withdrawn_at),
        satisfied_at=_ts(row.satisfied_at),
        satisfied_by_version=row.satisfied_by_version,
        satisfied_by=row.satisfied_by,
        withdrawn_at=_ts(row.withdrawn_at),
        withdrawn_reason=row.withdrawn_reason,
        origins=[
            OriginOut(o["type"], o["id"], o["reason"], o.get("requires")) for o in row.origins
        ],
        requires=sorted(stored_requires(row.requires)),
    )


def webhook_data(row: RotationObligation, now: datetime) -> dict[str, Any]:
    """A rotation webhook's ``data``: the obligation as the API shows it."""
    return {"obligation": msgspec.to_builtins(obligation_out(row, now))}


# legacy: remove when credentials, gestores and handovers moved
