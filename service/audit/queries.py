"""What an auditor may ask of the log: filters and time windows, checked before any query.

Events are read keyset-paginated by ascending seq, never with OFFSET
(service.audit.repository).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from service.audit.actions import ACTIONS
from service.clock import EARLIEST, LATEST, rfc3339
from service.errors import BadQuery

OUTCOMES = ("granted", "denied", "ok", "error")
MAX_LIMIT = 1000
# seq is a signed 64-bit column: a larger cursor is a bad request, not a 500.
MAX_SEQ = 2**63 - 1


@dataclass(frozen=True)
class EventFilter:
    actor: str | None = None
    account_id: str | None = None
    action: str | None = None
    outcome: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    after_seq: int = 0
    limit: int = 100

    def as_details(self) -> dict[str, Any]:
        """The filter as recorded in the ``audit.queried`` event."""
        out = {k: v for k, v in asdict(self).items() if v is not None}
        for key in ("since", "until"):
            if key in out:
                out[key] = rfc3339(out[key])
        return out


def parse_time(name: str, value: str | None) -> datetime | None:
    """An RFC 3339 timestamp with an offset, or a 400 naming the parameter."""
    if value is None:
        return None
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        # In UTC it must stay within datetime's range, with a day to spare for arithmetic.
        if parsed.tzinfo is not None and parsed.astimezone(UTC) > LATEST:
            parsed = None
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None or parsed.tzinfo is None or "T" not in value.upper() or parsed < EARLIEST:
        raise BadQuery(
            f"{name} must be an RFC 3339 timestamp with an offset, e.g. 2026-11-28T12:00:00Z",
            field=name,
        )
    return parsed


def make_filter(
    *,
    actor: str | None,
    account_id: str | None,
    action: str | None,
    outcome: str | None,
    since: str | None,
    until: str | None,
    after_seq: int,
    limit: int,
) -> EventFilter:
    if action is not None and action not in ACTIONS:
        raise BadQuery(
            f"unknown action; the audit trail records: {', '.join(sorted(ACTIONS))}",
            field="action",
        )
    if outcome is not None and outcome not in OUTCOMES:
        raise BadQuery(f"outcome must be one of: {', '.join(OUTCOMES)}", field="outcome")
    if not 1 <= limit <= MAX_LIMIT:
        raise BadQuery(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    if after_seq < 0:
        raise BadQuery("after_seq must be 0 or more", field="after_seq")
    window = make_window(since, until)
    return EventFilter(
        actor, account_id, action, outcome, window.since, window.until, after_seq, limit
    )


@dataclass(frozen=True)
class TimeWindow:
    """An export's window as asked (recorded verbatim) and as parsed."""

    since_text: str | None
    until_text: str | None
    since: datetime | None  # inclusive
    until: datetime | None  # exclusive


def make_window(since: str | None, until: str | None) -> TimeWindow:
    """Both bounds parsed, since before until; else a 400 naming the parameter."""
    start, end = parse_time("since", since), parse_time("until", until)
    if start is not None and end is not None and start >= end:
        raise BadQuery("since must be before until", field="since")
    return TimeWindow(since, until, start, end)
