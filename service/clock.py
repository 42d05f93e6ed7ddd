"""Injectable clock, so rules about deadlines are testable without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to; for tests."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, when: datetime) -> None:
        self._now = when


def rfc3339(ts: datetime) -> str:
    """UTC timestamp with microseconds and a Z, the format of audit events."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# How far ahead of our clock a client's "now" may be and still count as now.
CLOCK_SKEW = timedelta(seconds=60)
# Nothing in custody happened before this; earlier instants are typing errors.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
# The last instant a query bound may name: datetime ends at 9999, and bounds get arithmetic.
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def past_instant_problem(value: datetime, now: datetime) -> str | None:
    """Why ``value`` cannot be a past instant reported by a client, or None when it can."""
    if value.tzinfo is None:
        return "needs a time zone offset, e.g. 2026-11-28T12:00:00Z"
    if value < EARLIEST:
        return "cannot be before 1970-01-01"
    if value > now + CLOCK_SKEW:
        return "cannot be in the future"
    return None
