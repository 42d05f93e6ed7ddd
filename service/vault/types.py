"""Plain values the Vault adapter returns or names in its errors (no hvac here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class SecretVersion:
    """A KV v2 version as Vault recorded it."""

    version: int
    created_time: datetime


@dataclass(frozen=True)
class VaultHealth:
    ok: bool
    detail: str


@dataclass(frozen=True)
class VaultOp:
    """What a Vault call was for, as its errors name it: never a value, token or body."""

    action: str  # what the service was doing, e.g. "signing an audit checkpoint"
    target: str  # the key, path or endpoint it named, e.g. "transit key 'custodia-audit'"
    # An auth endpoint: Vault rejecting the request means it refused the credentials.
    auth: bool = False

    def __str__(self) -> str:
        return f"{self.action}, {self.target}"


def secret_version(meta: dict[str, Any]) -> SecretVersion:
    """The version number and creation time from KV v2 metadata."""
    return SecretVersion(int(meta["version"]), parse_time(meta["created_time"]))


def parse_time(value: str) -> datetime:
    """Vault's RFC 3339 with nanoseconds, cut to the microseconds Python keeps."""
    head, _, frac = value.rstrip("Z").partition(".")
    micro = (frac + "000000")[:6]
    return datetime.fromisoformat(f"{head}.{micro}").replace(tzinfo=UTC)
