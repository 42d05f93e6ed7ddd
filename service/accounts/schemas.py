"""Request and response shapes of accounts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

from service.domain.accounts import AccountKind, Platform

Text200 = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Handle = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=200,
        description="The platform's syntax (e.g. X: 1-15 of A-Z, 0-9, _); stored without "
        "surrounding spaces or a leading @. Unique per platform among live accounts, "
        "ignoring case and NFKC forms.",
    ),
]
Url = Annotated[
    str,
    msgspec.Meta(
        min_length=1, max_length=2000, description="https:// on the platform's own domain."
    ),
]
# Wide bounds here; the Quinta range (0..4) is a domain rule answered with 422.
# Any 64-bit level parses; the Quinta rule (0-4) answers 422 for the rest.
Level = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class AccountIn(msgspec.Struct, forbid_unknown_fields=True):
    platform: Platform
    handle: Handle
    url: Url
    display_name: Text200
    area: Text200
    kind: AccountKind
    owner_name: Text200 | None = None
    owner_cargo: Text200 | None = None
    hierarchy_level: Level | None = None
    managed_by_area: bool = False
    term_ends_on: date | None = None
    verified: bool = False
    in_directory: bool = True


class AccountPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    platform: Platform | msgspec.UnsetType = msgspec.UNSET
    handle: Handle | msgspec.UnsetType = msgspec.UNSET
    url: Url | msgspec.UnsetType = msgspec.UNSET
    display_name: Text200 | msgspec.UnsetType = msgspec.UNSET
    area: Text200 | msgspec.UnsetType = msgspec.UNSET
    kind: AccountKind | msgspec.UnsetType = msgspec.UNSET
    owner_name: Text200 | msgspec.UnsetType | None = msgspec.UNSET
    owner_cargo: Text200 | msgspec.UnsetType | None = msgspec.UNSET
    hierarchy_level: Level | msgspec.UnsetType | None = msgspec.UNSET
    managed_by_area: bool | msgspec.UnsetType = msgspec.UNSET
    term_ends_on: date | msgspec.UnsetType | None = msgspec.UNSET
    verified: bool | msgspec.UnsetType = msgspec.UNSET
    in_directory: bool | msgspec.UnsetType = msgspec.UNSET


class AccountOut(msgspec.Struct):
    id: str
    platform: str
    handle: str
    url: str
    display_name: str
    area: str
    kind: str
    owner_name: str | None
    owner_cargo: str | None
    hierarchy_level: int | None
    managed_by_area: bool
    term_ends_on: date | None
    verified: bool
    in_directory: bool
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None
    credential_version: int | None
    credential_created_time: datetime | None
    two_factor_method: str | None
    recovery_email_masked: str | None
    recovery_phone_masked: str | None
