"""Request and response shapes of API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class TokenCreate(msgspec.Struct, forbid_unknown_fields=True):
    role: Literal["admin", "auditor"]
    name: Name


class TokenIssued(msgspec.Struct):
    """A new token: its plaintext is here once and never stored."""

    id: str
    name: str
    role: str
    gestor_id: str | None
    created_at: datetime
    token: str


class TokenInfo(msgspec.Struct):
    id: str
    name: str
    role: str
    gestor_id: str | None
    created_at: datetime
    revoked_at: datetime | None
