"""Request and response bodies of the incidents API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from service.rotations.schemas import ObligationOut

AccountId = Annotated[str, msgspec.Meta(min_length=1, max_length=36)]


class IncidentIn(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["sustraccion", "extravio", "acceso_no_autorizado"]
    # Emptiness and the 100 cap are checked by the use case, to answer 422.
    account_ids: Annotated[list[AccountId], msgspec.Meta(max_length=1000)]
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=5000)]
    detected_at: datetime


class IncidentOut(msgspec.Struct):
    id: str
    type: str
    account_ids: list[str]
    description: str
    detected_at: str
    reported_by: str
    reported_by_role: str
    created_at: str


class IncidentDetail(IncidentOut):
    obligations: list[ObligationOut]
