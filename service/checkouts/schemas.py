"""Request and response shapes of checkouts. A Granted carries a secret: never log it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from service.credentials.schemas import CredentialIn
from service.settings import CHECKOUT_MINUTES_CAP


class CheckoutIn(msgspec.Struct, forbid_unknown_fields=True):
    totp_code: Annotated[str, msgspec.Meta(min_length=1, max_length=10)]
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    minutes: Annotated[int, msgspec.Meta(ge=1, le=CHECKOUT_MINUTES_CAP)] | None = None


class Credential(msgspec.Struct):
    username: str | None
    password: str | None
    recovery_email: str | None
    recovery_phone: str | None
    # Backup codes leave one at a time (POST /v1/checkouts/{id}/backup-code): how many
    # of the version's set are still unrevealed; None when it holds none.
    backup_codes_left: int | None


class PlatformTotp(msgspec.Struct):
    code: str
    valid_for_seconds: int


class Granted(msgspec.Struct):
    checkout_id: str
    expires_at: datetime
    rotation_required: bool
    credential_version: int
    credential: Credential
    platform_totp: PlatformTotp | None


class BackupCodeIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class BackupCode(msgspec.Struct):
    """One backup code, released once after its audit event committed: never log it.

    ``index`` is its place in the version's set (from 0); ``remaining``: how many
    of the set are still unrevealed after it.
    """

    checkout_id: str
    credential_version: int
    index: int
    code: str
    remaining: int


class CheckinIn(msgspec.Struct, forbid_unknown_fields=True):
    new_credential: CredentialIn | None = None


class CheckoutOut(msgspec.Struct):
    id: str
    account_id: str
    gestor_id: str
    reason: str
    granted_at: datetime
    expires_at: datetime
    rotation_required: bool
    closed_at: datetime | None
    close_reason: str | None
    credential_version: int | None


class CheckedIn(CheckoutOut):
    new_version: int | None
