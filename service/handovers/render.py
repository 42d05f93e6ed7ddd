"""Rendering an acta: a closed one from its frozen record only; each rendering is audited."""

from __future__ import annotations

import asyncio
from typing import Any

from service.audit.log import Entry
from service.documents.acta import acta_to_json, build_acta
from service.documents.formats import Format, Rendered, render
from service.documents.repository import DocumentRepository
from service.errors import NotFound
from service.handovers.annex import acta_of
from service.handovers.repository import HandoverRepository
from service.principal import Caller
from service.runtime import Runtime


async def render_acta(rt: Runtime, caller: Caller, handover_id: str, fmt: Format) -> Rendered:
    """The acta in ``fmt``; an open acta shows pending matters as they stand now."""
    async with rt.reader() as r:
        row = await HandoverRepository(r).get(handover_id)
        if row is None:
            raise NotFound(f"No handover with id {handover_id}")
        live = None
        if row.closed_at is None:
            grouped = await DocumentRepository(r).open_obligations(row.record["account_ids"])
            live = tuple(o for obs in grouped.values() for o in obs)
    acta = acta_of(row, live)
    data: dict[str, Any] = {
        **acta_to_json(acta),
        "id": row.id,
        "status": "closed" if row.closed_at else "open",
        "closed_sha256": row.closed_sha256,
    }
    stem = f"acta-entrega-recepcion-{row.folio}"
    rendered = await asyncio.to_thread(
        render, fmt, build_acta(acta), data, stem, rt.settings.pdf_page_size
    )
    await rt.record(
        caller,
        Entry(
            "handover.rendered",
            "ok",
            subject=f"handover:{row.id}",
            details={"folio": row.folio, "format": fmt, "sha256": rendered.sha256},
        ),
    )
    return rendered
