"""JSON shapes of the documents, declared for ``openapi.yaml`` (the renderers build dicts).

Times are ISO 8601 strings with their UTC offset, as the document layer writes them.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec


class AuditHeadOut(msgspec.Struct):
    seq: int
    hash: str


class GestorOut(msgspec.Struct):
    name: str
    kind: str
    cargo: str
    provider: str


class HolderOut(GestorOut):
    responsiva_accepted_at: str | None


class ObligationOut(msgspec.Struct):
    id: str
    platform: str
    handle: str
    reason: str
    triggered_at: str
    due_at: str
    overdue: bool


class PolicyOut(msgspec.Struct):
    departure_hours: int
    unassigned_hours: int
    handover_hours: int
    incident_hours: int
    manual_hours: int
    max_age_days: int
    max_age_grace_days: int


class CustodyAccountOut(msgspec.Struct):
    platform: str
    handle: str
    url: str
    area: str
    kind: str
    verified: bool
    two_factor_method: str
    recovery_channels: list[str]
    holders: list[HolderOut]


class ContactOut(msgspec.Struct):
    role: str
    name: str
    reach: str
    escalate_after_minutes: int | None


class ProcedureOut(msgspec.Struct):
    case: str
    title: str
    definition: str
    report: list[str]
    service: list[str]
    platform: list[str]
    evidence: list[str]


class SecurityProtocolJson(msgspec.Struct):
    """Protocolo de seguridad (Décima quinta); ``content_sha256`` covers every other key."""

    document: str
    schema_version: int
    sujeto_obligado: str
    siglas: str
    areas: list[str]
    version: int
    generated_at: str
    audit_head: AuditHeadOut
    policy: PolicyOut
    accounts: list[CustodyAccountOut]
    obligations: list[ObligationOut]
    contacts: list[ContactOut]
    procedures: list[ProcedureOut]
    content_sha256: str


class PartyOut(msgspec.Struct):
    name: str
    cargo: str


class OicOut(PartyOut):
    oficio: str


class AnnexObligationOut(msgspec.Struct):
    id: str
    platform: str
    handle: str
    reason: str
    triggered_at: str
    due_at: str


class AnnexRowOut(msgspec.Struct):
    platform: str
    handle: str
    url: str
    kind: str
    verified: bool
    recovery_channels: list[str]
    two_factor_method: str
    two_factor_holder: str
    credential_version: int | None
    credential_created_at: str | None
    last_rotation_at: str | None
    last_rotation_reason: str | None
    gestores: list[GestorOut]
    outgoing_last_retrieval: str | None
    checkouts_in_period: int
    open_obligations: list[AnnexObligationOut]


class ActaJson(msgspec.Struct):
    """Acta de entrega-recepción (Décima sexta); a closed one never changes."""

    document: str
    schema_version: int
    id: str
    status: str
    folio: str
    sujeto_obligado: str
    area: str
    place: str
    started_at: str
    ended_at: str | None
    reason: str
    legal_basis: str
    credential_delivery: str
    outgoing: PartyOut
    incoming: PartyOut
    incoming_identity: str
    oic_representative: OicOut
    witnesses: list[PartyOut]
    annex: list[AnnexRowOut]
    annex_sha256: str
    audit_head: AuditHeadOut | None
    pending: list[ObligationOut]
    closed_sha256: str | None


def document_response(container: Any, description: str) -> dict[int, ResponseSpec]:
    """The 200 response: the JSON schema, with the other formats named in the text."""
    return {
        HTTPStatus.OK: ResponseSpec(
            data_container=container,
            description=description,
            media_type="application/json",
            generate_examples=False,
        )
    }
