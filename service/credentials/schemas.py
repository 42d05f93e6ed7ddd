"""Request and response shapes of credentials. Requests carry secrets: never log them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

BackupCode = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
RemovableField = Literal["totp_secret", "backup_codes", "recovery_email", "recovery_phone", "notes"]


class FieldRemoval(msgspec.Struct, forbid_unknown_fields=True):
    """Drop a field from the credential: the 2FA seed, backup codes, a recovery channel, notes."""

    field: RemovableField
    # Why it goes; audited with the field's name (never its value).
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class CredentialIn(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    recovery_email: Annotated[str, msgspec.Meta(min_length=3, max_length=254)] | None = None
    recovery_phone: Annotated[str, msgspec.Meta(min_length=7, max_length=40)] | None = None
    totp_secret: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    backup_codes: Annotated[list[BackupCode], msgspec.Meta(max_length=50)] | None = None
    notes: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    # Why this version was written; kept with the version (not a secret).
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] | None = None
    # Fields to drop, each with a reason; any other field the request leaves out is kept
    # by a merge (PATCH, check-in) and refused by a full replacement (PUT).
    remove: Annotated[list[FieldRemoval], msgspec.Meta(max_length=5)] | None = None


class WrittenVersion(msgspec.Struct):
    version: int
    created_time: datetime


class VersionOut(msgspec.Struct):
    version: int
    created_time: datetime
    written_by: str | None
    written_by_role: str | None
    reason: str | None
    checkout_id: str | None
    is_rotation: bool | None
    # False: Vault has the version and SQL has not recorded it (yet): see recovery.py.
    recorded: bool


class HandBackOut(msgspec.Struct):
    """A credential handed back when its account left custody (Décima novena); no secret."""

    account_id: str
    handed_back_at: str
    handed_back_by: str | None
    # term_ended or not_managed_by_area
    reason: str | None
    last_version: int | None
    versions_kept: int | None
    checkouts_closed: list[str]
    numerals: list[str]
    # False until Vault has destroyed every version (retried by the hand-back job).
    vault_destroyed: bool
    vault_destroyed_at: str | None
