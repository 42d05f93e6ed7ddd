"""Protocolo de seguridad from live data; its generation is an audit event.

Version: the number of earlier ``document.security_protocol`` events plus one,
counted while holding the ``security_protocol`` named lock until commit, so two
generations never share a number.
Audit head printed: the last event *before* this generation's own event (read
with the chain locked in the transaction that appends it, so nothing can slip
in between).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from service.audit.log import Entry
from service.db.models import Account
from service.db.models import Gestor as GestorRow
from service.documents.content import (
    AuditHead,
    Contact,
    CustodyAccount,
    Holder,
    Obligation,
    SecurityProtocol,
)
from service.documents.facts import in_custody, masked_channels, two_factor_label
from service.documents.formats import Format, Rendered, render
from service.documents.protocol import build_protocol, protocol_sha256, protocol_to_json
from service.documents.repository import PROTOCOL_ACTION, DocumentRepository
from service.domain.rotation import DeadlinePolicy
from service.principal import Caller
from service.runtime import Runtime
from service.settings import Settings


def _contact(role: str, text: str, minutes: int | None) -> Contact:
    # "Name <reach>" splits into both columns; anything else is printed as the reach.
    name, sep, rest = text.partition("<")
    if sep and rest.endswith(">") and name.strip():
        return Contact(role, name.strip(), rest[:-1].strip(), minutes)
    return Contact(role, "—", text.strip(), minutes)


def contacts(settings: Settings) -> tuple[Contact, ...]:
    """Escalation ladder: the security team first, then internal control."""
    ladder = []
    if settings.security_contact:
        ladder.append(_contact("Seguridad informática", settings.security_contact, 30))
    if settings.oic_contact:
        ladder.append(_contact("Órgano interno de control", settings.oic_contact, None))
    return tuple(ladder)


def holder_of(g: GestorRow) -> Holder:
    return Holder(
        name=g.name,
        kind="externo" if g.kind == "externo" else "servidor_publico",
        cargo=g.cargo or "",
        provider=g.provider or "",
        responsiva_accepted_at=g.responsiva_accepted_at,
    )


def custody_account(a: Account, holders: list[GestorRow]) -> CustodyAccount:
    """An account in custody as the protocol lists it, with who holds its password."""
    return CustodyAccount(
        platform=a.platform,
        handle=a.handle,
        url=a.url,
        area=a.area,
        kind="personal" if a.kind == "personal" else "oficial",
        verified=a.verified,
        two_factor_method=two_factor_label(a.two_factor_method),
        recovery_channels=masked_channels(a),
        holders=tuple(holder_of(g) for g in holders),
    )


@dataclass(frozen=True)
class Generated:
    rendered: Rendered
    version: int
    content_sha256: str
    audit_head: AuditHead


@dataclass(frozen=True)
class _Custody:
    """The state of custody a protocol is built from."""

    accounts: list[Account]
    holders: dict[str, list[GestorRow]]
    obligations: dict[str, list[Obligation]]


async def _custody(repo: DocumentRepository, now: datetime) -> _Custody:
    accounts = [a for a in await repo.live_accounts() if in_custody(a, now)]
    return _Custody(accounts, await repo.holders_by_account(), await repo.open_obligations())


def _protocol(
    s: Settings, custody: _Custody, version: int, at: datetime, audit_head: AuditHead
) -> SecurityProtocol:
    accounts = custody.accounts
    return SecurityProtocol(
        sujeto_obligado=s.sujeto_obligado,
        siglas=s.sujeto_obligado_siglas,
        areas=tuple(dict.fromkeys([*s.areas, *sorted({a.area for a in accounts})])),
        accounts=tuple(custody_account(a, custody.holders.get(a.id, [])) for a in accounts),
        policy=DeadlinePolicy.from_settings(s),
        obligations=tuple(o for a in accounts for o in custody.obligations.get(a.id, [])),
        contacts=contacts(s),
        version=version,
        generated_at=at,
        audit_head=audit_head,
    )


async def security_protocol(rt: Runtime, caller: Caller, fmt: Format) -> Generated:
    """Build the protocol from SQL only (no Vault call), record it, then render it."""
    s = rt.settings
    async with rt.unit_of_work(caller) as uow:
        repo = DocumentRepository(uow)
        await uow.serialize("security_protocol")
        version = await repo.protocol_generations() + 1
        custody = await _custody(repo, uow.now())
        protocol = _protocol(s, custody, version, uow.now(), AuditHead(*await uow.chain_head()))
        digest = protocol_sha256(protocol)
        uow.record(
            Entry(
                PROTOCOL_ACTION,
                "ok",
                subject=f"security_protocol:v{version}",
                details={
                    "version": version,
                    "format": fmt,
                    "content_sha256": digest,
                    "audit_head_seq": protocol.audit_head.seq,
                    "accounts": len(custody.accounts),
                },
            )
        )
    # Rendered after commit, off the event loop: no lock is held while a PDF is drawn.
    stem = f"protocolo-de-seguridad-v{version}"
    rendered = await asyncio.to_thread(
        render, fmt, build_protocol(protocol), protocol_to_json(protocol), stem, s.pdf_page_size
    )
    return Generated(rendered, version, digest, protocol.audit_head)
