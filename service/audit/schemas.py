"""Response shapes of the audit trail's API."""

from __future__ import annotations

from typing import Any

import msgspec


class AuditEventOut(msgspec.Struct):
    seq: int
    ts: str
    actor: str | None
    actor_role: str | None
    action: str
    outcome: str
    account_id: str | None
    subject: str | None
    reason: str | None
    request_id: str | None
    ip: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class EventPage(msgspec.Struct):
    events: list[AuditEventOut]
    # Pass as after_seq for the next page; null when this page was the last.
    next_after_seq: int | None


class PublicKey(msgspec.Struct):
    algorithm: str
    public_key: str
    key_version: int


class Checkpoint(msgspec.Struct):
    seq: int
    hash: str
    ts: str
    signature: str
    key_version: int


class Head(msgspec.Struct):
    seq: int
    hash: str


class Verification(msgspec.Struct):
    valid: bool
    checked: int
    head: Head
    first_invalid_seq: int | None
    problem: str | None
