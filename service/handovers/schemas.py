"""Request and response shapes of entrega-recepción."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=36)]


class PartyIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    cargo: Name


class OutgoingIn(PartyIn, forbid_unknown_fields=True):
    # The outgoing official's gestor identity, when they held custody as a gestor.
    gestor_id: Id | None = None


class IncomingIn(PartyIn, forbid_unknown_fields=True):
    # Custody in this service is an assignment, so the receiver is a gestor.
    gestor_id: Id


class OicIn(PartyIn, forbid_unknown_fields=True):
    oficio: Name


class HandoverIn(msgspec.Struct, forbid_unknown_fields=True):
    area: Name
    outgoing: OutgoingIn
    incoming: IncomingIn
    place: Text
    reason: Text
    started_at: datetime
    # Presence and the two-witness minimum are checked by the use case, to answer 422.
    oic_representative: OicIn | None = None
    witnesses: Annotated[list[PartyIn], msgspec.Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )


class HandoverPatch(msgspec.Struct, forbid_unknown_fields=True):
    """What may still change while the acta is open; a closed acta answers 409."""

    place: Text | msgspec.UnsetType = msgspec.UNSET
    reason: Text | msgspec.UnsetType = msgspec.UNSET
    oic_representative: OicIn | msgspec.UnsetType = msgspec.UNSET
    witnesses: Annotated[list[PartyIn], msgspec.Meta(max_length=20)] | msgspec.UnsetType = (
        msgspec.UNSET
    )


class HandoverOut(msgspec.Struct):
    id: str
    folio: str
    area: str
    status: str
    started_at: str
    ended_at: str | None
    created_at: str
    created_by: str
    accounts: int
    incoming_identity: str
    annex_sha256: str
    obligation_ids: list[str]
    closing_head_seq: int | None
    closing_head_hash: str | None
    closed_sha256: str | None
