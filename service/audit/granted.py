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

from service.audit.reconcile import GrantedCheckout
from service.audit.repository import AuditEventRepository
from service.runtime import build_runtime
from service.settings import Settings

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


async def granted_checkouts(settings: Settings, since: datetime | None) -> list[GrantedCheckout]:
    """Every granted checkout recorded at or after ``since``, in seq order."""
    rt = build_runtime(settings)
    try:
        async with rt.reader() as reader:
            events = AuditEventRepository(reader)
            rows = await events.grants(GRANTED, "granted", since)
            failed = {_after(s, "checkout:") for s in await events.subjects(FAILED, since)}
    finally:
        await rt.stop()
    found = (
        granted_from_event(row.ts, row.actor, row.account_id, row.subject, row.details)
        for row in rows
    )
    return [
        dataclasses.replace(checkout, released=checkout.checkout_id not in failed)
        for checkout in found
        if checkout is not None
    ]
