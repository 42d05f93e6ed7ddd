"""Freezing the inventory annex, and rebuilding the acta from a handovers row.

Everything comes from SQL: credential facts from ``accounts.credential_*`` and
``credential_versions``, never from Vault.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from service.db.models import Account, Handover
from service.documents.acta import annex_from_json, obligation_from_json
from service.documents.content import (
    AnnexRow,
    AuditHead,
    Gestor,
    HandoverActa,
    Obligation,
    OicRepresentative,
    Party,
)
from service.documents.facts import masked_channels, two_factor_label
from service.documents.repository import DocumentRepository
from service.handovers.repository import HandoverRepository


def two_factor_holder(a: Account) -> str:
    """Who holds the second factor: custody for a platform seed, else the área's gestores."""
    if not a.two_factor_method:
        return "nadie: sin segundo factor registrado"
    if a.two_factor_method == "totp":
        return "custodia: la semilla está en Vault y solo sale como código en una extracción"
    return f"gestores del área {a.area}"


async def gestores_before(
    documents: DocumentRepository, ids: list[str]
) -> dict[str, tuple[Gestor, ...]]:
    """Who had access before the transfer, as plain gestores (no responsiva date)."""
    holders = await documents.holders_by_account(ids)
    return {
        account_id: tuple(
            Gestor(
                g.name,
                "externo" if g.kind == "externo" else "servidor_publico",
                g.cargo or "",
                g.provider or "",
            )
            for g in rows
        )
        for account_id, rows in holders.items()
    }


async def build_annex(
    repo: HandoverRepository,
    documents: DocumentRepository,
    accounts: list[Account],
    gestores: dict[str, tuple[Gestor, ...]],
    *,
    since: datetime | None,
    until: datetime,
    outgoing_gestor_id: str | None,
) -> tuple[AnnexRow, ...]:
    """One row per account: a constant number of queries, whatever the size."""
    ids = [a.id for a in accounts]
    rotations = await repo.last_rotations(ids)
    counts = await repo.checkout_counts(ids, since=since, until=until)
    last: dict[str, datetime] = {}
    if outgoing_gestor_id is not None:
        last = await repo.last_retrievals(ids, outgoing_gestor_id)
    obligations = await documents.open_obligations(ids)
    rows = []
    for a in accounts:
        rotation = rotations.get(a.id)
        rows.append(
            AnnexRow(
                platform=a.platform,
                handle=a.handle,
                url=a.url,
                kind="personal" if a.kind == "personal" else "oficial",
                verified=a.verified,
                recovery_channels=masked_channels(a),
                two_factor_method=two_factor_label(a.two_factor_method),
                two_factor_holder=two_factor_holder(a),
                credential_version=a.credential_version,
                credential_created_at=a.credential_created_time,
                last_rotation_at=rotation[0] if rotation else None,
                last_rotation_reason=rotation[1] if rotation else None,
                gestores=gestores.get(a.id, ()),
                outgoing_last_retrieval=last.get(a.id),
                checkouts_in_period=counts.get(a.id, 0),
                open_obligations=tuple(obligations.get(a.id, ())),
            )
        )
    return tuple(rows)


def _party(d: dict[str, Any]) -> Party:
    return Party(d["name"], d["cargo"])


def acta_of(row: Handover, pending: tuple[Obligation, ...] | None = None) -> HandoverActa:
    """The acta of a handover; a closed one only from its frozen record and annex."""
    record = row.record
    head = record.get("audit_head")
    oic = record["oic_representative"]
    frozen = record.get("pending")
    return HandoverActa(
        folio=row.folio,
        sujeto_obligado=record["sujeto_obligado"],
        area=row.area,
        place=record["place"],
        started_at=datetime.fromisoformat(record["started_at"]),
        ended_at=datetime.fromisoformat(record["ended_at"]) if record.get("ended_at") else None,
        reason=record["reason"],
        outgoing=_party(record["outgoing"]),
        incoming=_party(record["incoming"]),
        incoming_identity=record["incoming_identity"],
        oic_representative=OicRepresentative(oic["name"], oic["cargo"], oficio=oic["oficio"]),
        witnesses=tuple(_party(w) for w in record["witnesses"]),
        annex=annex_from_json(row.annex),
        audit_head=AuditHead(head["seq"], head["hash"]) if head else None,
        pending=tuple(obligation_from_json(o) for o in frozen)
        if frozen is not None
        else (pending or ()),
    )
