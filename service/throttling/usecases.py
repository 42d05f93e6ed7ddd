"""Refusals per token and per client address, counted in the database; 429 past a limit.

A refused request (service.throttling.policy.is_refusal) adds one to its token's
and its address's counters for the current fixed window, in one statement
(INSERT … ON CONFLICT DO UPDATE … RETURNING), so every replica sharing the
database counts into the same rows. Once a counter reaches its limit, requests
from that key get 429 until the window ends, before any handler runs and so
before any audit event; the first of them in the window records one
``request.throttled`` event (claimed on the row, so one across replicas too).

Cost on the hot path. A request from keys this instance has not counted a
refusal for, in this window or the one before, reads nothing: well-behaved
traffic pays no statement at all. A key this instance did see refused is
checked with one primary-key read per request until the instance knows it is
over its limit; from then on the 429 is answered from memory (counters only
grow within a window), so a flood of throttled requests costs no statement
either, beyond one claim of the summary per instance and window. The price: a
replica that has not seen a key refused lately does not check it, so it lets
that key's next request through, and counts it if it is refused, after which it
checks the key like the others. A key over its limit elsewhere therefore gets
at most one more refusal per replica per window, and the chain stays bounded
by the limit plus the number of replicas (plus requests already in flight):
that bound, not exactness, is what the throttle is for. Checking every request
instead would cost a read on every call to protect against that one request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from service.audit.log import Entry
from service.clock import rfc3339
from service.principal import SYSTEM, Caller
from service.runtime import Runtime
from service.throttling.memory import RefusedKeys
from service.throttling.policy import ThrottleKey, Window
from service.throttling.repository import ThrottleRepository


@dataclass(frozen=True)
class Throttled:
    """The keys of a request that are over their limits, and when they are released."""

    keys: tuple[ThrottleKey, ...]
    window: Window
    retry_after: int


class RefusalThrottle:
    """One per app instance: answers whether a request is throttled, and counts refusals."""

    def __init__(self, rt: Runtime, refused: RefusedKeys | None = None) -> None:
        self.rt = rt
        self.refused = refused or RefusedKeys()

    def limit(self, key: ThrottleKey) -> int:
        settings = self.rt.settings
        if key.kind == "token":
            return settings.throttle_token_refusals
        return settings.throttle_address_refusals

    def window(self, now: datetime) -> Window:
        return Window.at(now, self.rt.settings.throttle_window_seconds)

    async def check(self, keys: Sequence[ThrottleKey], now: datetime) -> Throttled | None:
        """Whether any of ``keys`` is over its limit now (reads only for known keys)."""
        window = self.window(now)
        known = self.refused.known(window.start, keys)
        over = [k for k in known if self._seen_over(window, k)]
        unsure = [k for k in known if k not in over]
        if not over and unsure:
            async with self.rt.reader() as reader:
                counts = await ThrottleRepository(reader).counts(unsure, window.start)
            for key, (refusals, summarised) in counts.items():
                self.refused.saw(window.start, key, refusals, summarised)
                if refusals >= self.limit(key):
                    over.append(key)
        if not over:
            return None
        return Throttled(tuple(over), window, window.retry_after(now))

    def _seen_over(self, window: Window, key: ThrottleKey) -> bool:
        seen = self.refused.get(window.start, key)
        return seen is not None and seen.refusals >= self.limit(key)

    async def summarise(
        self, throttled: Throttled, caller: Callable[[], Awaitable[Caller]]
    ) -> None:
        """Record the window's one ``request.throttled`` event per key, if nobody has yet."""
        start = throttled.window.start
        pending = [k for k in throttled.keys if not self._summarised(start, k)]
        if not pending:
            return
        async with self.rt.unit_of_work(await caller()) as uow:
            repo = ThrottleRepository(uow)
            for key in pending:
                refusals = await repo.claim_summary(key, start)
                if refusals is not None:
                    uow.record(_summary(key, throttled.window, refusals, self.limit(key)))
        for key in pending:
            self.refused.saw(start, key, self.limit(key), summarised=True)

    def _summarised(self, start: datetime, key: ThrottleKey) -> bool:
        seen = self.refused.get(start, key)
        return seen is not None and seen.summarised

    async def count(self, keys: Sequence[ThrottleKey], now: datetime) -> None:
        """Add one refusal to each key's counter in the current window."""
        if not keys:
            return
        window = self.window(now)
        async with self.rt.unit_of_work(SYSTEM) as uow:
            counts = await ThrottleRepository(uow).count(keys, window.start)
        for key, refusals in counts.items():
            self.refused.saw(window.start, key, refusals, summarised=False)


def _summary(key: ThrottleKey, window: Window, refusals: int, limit: int) -> Entry:
    return Entry(
        "request.throttled",
        "denied",
        subject=f"{key.kind}:sha256:{key.digest}",
        reason="too_many_refusals",
        details={
            "key_kind": key.kind,
            "key_sha256": key.digest,
            "window_start": rfc3339(window.start),
            "window_seconds": window.seconds,
            "refusals": refusals,
            "limit": limit,
        },
    )


async def forget_old_windows(rt: Runtime) -> int:
    """Delete the counters of windows before the current one; how many went."""
    window = Window.at(rt.clock.now(), rt.settings.throttle_window_seconds)
    async with rt.unit_of_work(SYSTEM) as uow:
        return await ThrottleRepository(uow).forget_before(window.start)
