"""Granted checkouts for ``custodia audit reconcile``, read from the audit chain.

The chain, not the ``checkouts`` table, is the source: it is the record that
verification proves untouched, while a row forged into ``checkouts`` could make
a direct read look backed. A granted checkout is an event with action
``checkout.granted`` and outcome ``granted``; its id is ``details.checkout_id``
or the ``subject`` ``checkout:<id>``, its gestor ``details.gestor_id`` or the
actor ``gestor:<id>``, its account the event's ``account_id``. A later
``checkout.failed`` event for the same checkout marks it as not released.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from service.audit.reconcile import GrantedCheckout
from service.clock import rfc3339
from service.db.engine import make_engine
from service.db.models import AuditEvent

GRANTED = "checkout.granted"
FAILED = "checkout.failed"


def _after(value: str | None, prefix: str) -> str | None:
    return value[len(prefix) :] if value and value.startswith(prefix) else None


def granted_from_event(
    ts: str, actor: str | None, account_id: str | None, subject: str | None, details: str
) -> GrantedCheckout | None:
    """The checkout an event records, or None when it names no checkout and account."""
    try:
        extra: Mapping[str, Any] = json.loads(details)
    except ValueError:
        extra = {}
    if not isinstance(extra, dict):
        extra = {}
    checkout_id = extra.get("checkout_id") or _after(subject, "checkout:")
    gestor_id = extra.get("gestor_id") or _after(actor, "gestor:") or ""
    if not checkout_id or not account_id:
        return None
    granted_at = datetime.fromisoformat(ts)
    return GrantedCheckout(str(checkout_id), account_id, str(gestor_id), granted_at)


async def granted_checkouts(database_url: str, since: datetime | None) -> list[GrantedCheckout]:
    """Every granted checkout recorded at or after ``since``, in seq order."""
    engine = make_engine(database_url, pool_size=1)
    query = (
        select(
            AuditEvent.ts,
            AuditEvent.actor,
            AuditEvent.account_id,
            AuditEvent.subject,
            AuditEvent.details,
        )
        .where(AuditEvent.action == GRANTED, AuditEvent.outcome == "granted")
        .order_by(AuditEvent.seq)
    )
    if since is not None:
        query = query.where(AuditEvent.ts >= rfc3339(since))
    failed_query = select(AuditEvent.subject).where(AuditEvent.action == FAILED)
    if since is not None:
        failed_query = failed_query.where(AuditEvent.ts >= rfc3339(since))
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            failed = {_after(s, "checkout:") for s in (await conn.scalars(failed_query))}
    finally:
        await engine.dispose()
    found = (granted_from_event(*row) for row in rows)
    return [
        dataclasses.replace(checkout, released=checkout.checkout_id not in failed)
        for checkout in found
        if checkout is not None
    ]
