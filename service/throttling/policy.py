"""What counts as a refusal, whose key it is, and the fixed windows: pure rules."""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

Kind = Literal["token", "address"]

# Refused whatever the method: the caller's identity, authority or second factor.
ALWAYS_REFUSED = frozenset({401, 403, 423})
# Refused actions: a write on something missing or in the wrong state. Most of them
# are audited (checkout.refused, handover.changed, credential.write_conflict...); a
# read's 404 is a lookup that finds nothing and records nothing.
REFUSED_WRITES = frozenset({404, 409})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, order=True)
class ThrottleKey:
    """A token or a client address, as the counters store it: a SHA-256, never the value."""

    kind: Kind
    digest: str


def token_key(token_digest: str) -> ThrottleKey:
    """The key of a token, from its lookup digest (service.tokens), hashed once more.

    The counters and the audit trail never hold the digest that finds the token row.
    """
    return ThrottleKey("token", _sha256(f"custodia-throttle:token:{token_digest}"))


def address_key(address: str) -> ThrottleKey:
    return ThrottleKey("address", _sha256(f"custodia-throttle:address:{address}"))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def is_refusal(method: str, status: int) -> bool:
    """Whether an answer refused the caller, and so counts toward its limits."""
    if status in ALWAYS_REFUSED:
        return True
    return status in REFUSED_WRITES and method.upper() not in READ_METHODS


def client_address(host: str) -> str:
    """``host`` as one client's address: an IPv4-mapped IPv6 address as plain IPv4."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return str(mapped or ip)


def is_exempt(address: str, networks: tuple[str, ...]) -> bool:
    """Whether ``address`` lies in one of ``networks`` (an unparsable address never does)."""
    try:
        ip = ipaddress.ip_address(client_address(address))
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in networks)


@dataclass(frozen=True)
class Window:
    """One fixed window of ``seconds``: the same on every replica, from the epoch."""

    start: datetime
    seconds: int

    @classmethod
    def at(cls, now: datetime, seconds: int) -> Window:
        elapsed = (now - EPOCH) // timedelta(seconds=seconds)
        return cls(EPOCH + elapsed * timedelta(seconds=seconds), seconds)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the window ends (at least 1), for ``Retry-After``."""
        return max(1, math.ceil((self.end - now).total_seconds()))
