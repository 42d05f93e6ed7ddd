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
    """What a Vault call was for, as its errors name it: never a value, token, body or path.

    Errors reach callers and logs, and where Vault keeps things is not theirs to
    learn: the subject names what the call was about by the service's own ids, and
    ``settings`` names the variables that say where, for an operator to check.
    """

    action: str  # what the service was doing, e.g. "signing an audit checkpoint"
    subject: str  # what it was about, e.g. "gestor <id>" or "the audit signing key"
    settings: str = ""  # the CUSTODIA_* variables that locate it, e.g. CUSTODIA_VAULT_KV_MOUNT
    # An auth endpoint: Vault rejecting the request means it refused the credentials.
    auth: bool = False

    def __str__(self) -> str:
        return f"{self.action}, {self.subject}"


def secret_version(meta: dict[str, Any]) -> SecretVersion:
    """The version number and creation time from KV v2 metadata."""
    return SecretVersion(int(meta["version"]), parse_time(meta["created_time"]))


def parse_time(value: str) -> datetime:
    """Vault's RFC 3339 with nanoseconds, cut to the microseconds Python keeps."""
    head, _, frac = value.rstrip("Z").partition(".")
    micro = (frac + "000000")[:6]
    return datetime.fromisoformat(f"{head}.{micro}").replace(tzinfo=UTC)
