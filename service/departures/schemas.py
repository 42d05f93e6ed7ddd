"""Request and response bodies of a departure; the case file is also what is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec


class DepartureIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    effective_at: datetime | None = None


class CaseFileAccount(msgspec.Struct):
    account_id: str
    platform: str | None
    handle: str | None
    access_began: str
    access_ended: str
    last_rotation: str | None
    rotated_since_access_ended: bool
    retrieved_since_rotation: bool
    last_retrieved_at: str | None
    retrievals_since_rotation: int


class CaseFileObligation(msgspec.Struct):
    """An obligation the departure opened or joined; ``why``: what the gestor knew.

    ``requires`` lists what its satisfying version must replace (password,
    backup_codes, totp_secret); case files stored before it existed owed the password.
    """

    id: str
    account_id: str
    reason: str
    due_at: str
    requires: list[str] = msgspec.field(default_factory=lambda: ["password"])
    why: list[str] = msgspec.field(default_factory=list)


class CaseFile(msgspec.Struct):
    """What the departure did and what it left owing; stored once, answered on every call.

    Stored in gestores.departure_case_file as this Struct's JSON (msgspec.to_builtins).
    """

    gestor_id: str
    gestor_name: str
    effective_at: str
    recorded_at: str
    recorded_by: str
    reason: str
    tokens_revoked: int
    assignments_ended: int
    checkouts_closed: list[str]
    accounts: list[CaseFileAccount]
    obligations: list[CaseFileObligation]
    seed_destroyed: bool
    seed_destroyed_at: str | None
