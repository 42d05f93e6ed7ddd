"""Request and response bodies of the rotations API."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec


class OriginOut(msgspec.Struct, omit_defaults=True):
    type: str
    id: Any
    reason: str
    # A leaver's origin that requires more (or other) than the password says so.
    requires: list[str] | None = None


class ObligationOut(msgspec.Struct):
    id: str
    account_id: str
    reason: str
    triggered_by: str
    triggered_at: str
    due_at: str
    status: str
    satisfied_at: str | None
    satisfied_by_version: int | None
    satisfied_by: str | None
    withdrawn_at: str | None
    withdrawn_reason: str | None
    origins: list[OriginOut]
    # What the satisfying version must replace: password, backup_codes, totp_secret.
    requires: list[str]


class SummaryCounts(msgspec.Struct):
    open: int
    overdue: int
    satisfied: int
    withdrawn: int


class SummaryOut(msgspec.Struct):
    counts: SummaryCounts
    oldest_overdue: ObligationOut | None


class ManualObligation(msgspec.Struct, forbid_unknown_fields=True):
    account_id: Annotated[str, msgspec.Meta(min_length=1, max_length=36)]
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
