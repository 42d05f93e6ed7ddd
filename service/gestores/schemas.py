"""Request and response shapes of gestores and assignments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Text200 = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=36)]
GestorKind = Literal["servidor_publico", "externo"]


class GestorIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Text200
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
    kind: GestorKind
    area: Text200
    cargo: Text200 | None = None
    provider: Text200 | None = None


class GestorOut(msgspec.Struct):
    id: str
    name: str
    email: str
    kind: str
    cargo: str | None
    provider: str | None
    area: str
    created_at: datetime
    totp_state: str
    locked_until: datetime | None
    responsiva_version: str | None
    responsiva_accepted_at: datetime | None
    departed_at: datetime | None


class GestorTokenIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Text200


class AssignmentIn(msgspec.Struct, forbid_unknown_fields=True):
    gestor_id: Id


class AssignmentOut(msgspec.Struct):
    id: str
    account_id: str
    gestor_id: str
    assigned_at: datetime
    assigned_by: str
    ended_at: datetime | None
    ended_reason: str | None
