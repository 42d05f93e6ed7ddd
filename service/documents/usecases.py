"""Protocolo de seguridad from live data; its generation is an audit event.

Version: the number of earlier ``document.security_protocol`` events plus one,
counted under the audit lock, so two generations never share a number.
Audit head printed: the last event *before* this generation's own event (read
in the same transaction that appends it, so nothing can slip in between).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from service.audit.log import Entry, append, head
from service.db.models import Account
from service.db.models import Gestor as GestorRow
from service.documents.content import (
    AuditHead,
    Contact,
    CustodyAccount,
    Holder,
    SecurityProtocol,
)
from service.documents.formats import Format, Rendered, render
from service.documents.protocol import build_protocol, protocol_sha256, protocol_to_json
from service.documents.queries import (
    PROTOCOL_ACTION,
    holders_by_account,
    live_accounts,
    masked_channels,
    open_obligations,
    protocol_generations,
    two_factor_label,
)
from service.domain.accounts import AccountProfile, may_hold_credential
from service.domain.rotation import DeadlinePolicy
from service.principal import Caller
from service.rotations.obligations import opt_utc
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
        responsiva_accepted_at=opt_utc(g.responsiva_accepted_at),
    )


def in_custody(a: Account, rt: Runtime) -> bool:
    profile = AccountProfile(
        kind="personal" if a.kind == "personal" else "oficial",
        hierarchy_level=a.hierarchy_level,
        managed_by_area=a.managed_by_area,
        term_ends_on=a.term_ends_on,
    )
    return may_hold_credential(profile, rt.clock.now())


@dataclass(frozen=True)
class Generated:
    rendered: Rendered
    version: int
    content_sha256: str
    audit_head: AuditHead


async def security_protocol(rt: Runtime, caller: Caller, fmt: Format) -> Generated:
    """Build the protocol from SQL only (no Vault call), record it, then render it."""
    async with rt.transaction() as session:
        seq, chain_hash = await head(session)
        version = await protocol_generations(session) + 1
        accounts = [a for a in await live_accounts(session) if in_custody(a, rt)]
        holders = await holders_by_account(session)
        obligations = await open_obligations(session)
        s = rt.settings
        areas = tuple(dict.fromkeys([*s.areas, *sorted({a.area for a in accounts})]))
        protocol = SecurityProtocol(
            sujeto_obligado=s.sujeto_obligado,
            siglas=s.sujeto_obligado_siglas,
            areas=areas,
            accounts=tuple(
                CustodyAccount(
                    platform=a.platform,
                    handle=a.handle,
                    url=a.url,
                    area=a.area,
                    kind="personal" if a.kind == "personal" else "oficial",
                    verified=a.verified,
                    two_factor_method=two_factor_label(a.two_factor_method),
                    recovery_channels=masked_channels(a),
                    holders=tuple(holder_of(g) for g in holders.get(a.id, [])),
                )
                for a in accounts
            ),
            policy=DeadlinePolicy.from_settings(s),
            obligations=tuple(o for a in accounts for o in obligations.get(a.id, [])),
            contacts=contacts(s),
            version=version,
            generated_at=rt.clock.now(),
            audit_head=AuditHead(seq, chain_hash),
        )
        digest = protocol_sha256(protocol)
        await append(
            session,
            caller,
            Entry(
                PROTOCOL_ACTION,
                "ok",
                subject=f"security_protocol:v{version}",
                details={
                    "version": version,
                    "format": fmt,
                    "content_sha256": digest,
                    "audit_head_seq": seq,
                    "accounts": len(accounts),
                },
            ),
            rt.clock,
        )
    # Rendered after commit, off the event loop: no lock is held while a PDF is drawn.
    stem = f"protocolo-de-seguridad-v{version}"
    rendered = await asyncio.to_thread(
        render, fmt, build_protocol(protocol), protocol_to_json(protocol), stem, s.pdf_page_size
    )
    return Generated(rendered, version, digest, protocol.audit_head)
