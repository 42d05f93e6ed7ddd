"""What one app instance knows about the keys it saw refused in the current window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from service.throttling.policy import ThrottleKey

# Keys remembered per window; past this, every key is checked until the window ends.
CAPACITY = 100_000


@dataclass
class Seen:
    """A key's refusals as this instance last saw them, and whether its summary is done."""

    refusals: int
    summarised: bool = False


class RefusedKeys:
    """The hot path's hint: which keys to check against the shared counters.

    A key is remembered when this instance counts a refusal of it, for the rest
    of that window and the next one (an attacker who was refused keeps being
    checked when the counters start again at zero). Memory is bounded: once
    ``capacity`` keys are remembered in a window, new keys are not, and every
    key counts as remembered until the window ends, so a flood of addresses
    costs reads, never a missed throttle.
    """

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._window: datetime | None = None
        self._seen: dict[ThrottleKey, Seen] = {}
        self._before: set[ThrottleKey] = set()
        self._full = False

    def _in(self, window: datetime) -> dict[ThrottleKey, Seen]:
        if window != self._window:
            self._before = set(self._seen)
            self._window, self._seen, self._full = window, {}, False
        return self._seen

    def known(self, window: datetime, keys: Sequence[ThrottleKey]) -> list[ThrottleKey]:
        """The keys among ``keys`` refused recently: in this window or the one before."""
        seen = self._in(window)
        if self._full:
            return list(keys)
        return [k for k in keys if k in seen or k in self._before]

    def get(self, window: datetime, key: ThrottleKey) -> Seen | None:
        """What this instance knows of ``key`` in ``window``."""
        return self._in(window).get(key)

    def saw(self, window: datetime, key: ThrottleKey, refusals: int, summarised: bool) -> None:
        """Remember the latest count of ``key`` (counts only grow within a window)."""
        seen = self._in(window)
        if key in seen:
            entry = seen[key]
            entry.refusals = max(entry.refusals, refusals)
            entry.summarised = entry.summarised or summarised
        elif len(seen) < self.capacity:
            seen[key] = Seen(refusals, summarised)
        else:
            self._full = True
