"""Helpers for the custody tests: accounts, gestores and enrolled TOTP through the API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
from sqlalchemy import select

from service.db.models import AuditEvent
from tests.conftest import Client, runtime_of


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def handle_uid(prefix: str = "cuenta") -> str:
    """A fresh handle every platform admits: letters and digits, 15 at most (X's limit)."""
    return f"{prefix}{uuid.uuid4().hex}"[:15]


async def create_account(client: Client, admin: dict[str, str], **fields: Any) -> str:
    handle = handle_uid()
    body: dict[str, Any] = {
        "platform": "x",
        "handle": handle,
        "url": f"https://x.com/{handle}",
        "display_name": "Cuenta oficial de prueba",
        "area": "Comunicación Social",
        "kind": "oficial",
        **fields,
    }
    resp = await client.post("/v1/accounts", json=body, headers=admin)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def create_gestor(client: Client, admin: dict[str, str], **fields: Any) -> str:
    body: dict[str, Any] = {
        "name": uid("Gestor"),
        "email": f"{uid('g')}@example.gob.mx",
        "kind": "servidor_publico",
        "cargo": "Jefe de departamento",
        "area": "Comunicación Social",
        **fields,
    }
    resp = await client.post("/v1/gestores", json=body, headers=admin)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def gestor_token(client: Client, admin: dict[str, str], gestor_id: str) -> dict[str, str]:
    resp = await client.post(
        f"/v1/gestores/{gestor_id}/tokens", json={"name": uid("tok")}, headers=admin
    )
    assert resp.status_code == 201, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def seed_of(otpauth_uri: str) -> str:
    """The base32 secret an authenticator app would read from the URI."""
    return parse_qs(urlsplit(otpauth_uri).query)["secret"][0]


def code_at(seed: str, at: datetime) -> str:
    return str(pyotp.TOTP(seed).at(at))


async def enrol(client: Client, headers: dict[str, str], at: datetime | None = None) -> str:
    """Enrol and confirm TOTP with the code of the step before ``at``; return the seed."""
    resp = await client.post("/v1/me/totp/enrollment", headers=headers)
    assert resp.status_code == 201, resp.text
    seed = seed_of(resp.json()["otpauth_uri"])
    when = at or datetime.now(UTC)
    code = str(pyotp.TOTP(seed).at(when, counter_offset=-1))
    confirmed = await client.post("/v1/me/totp/confirm", json={"code": code}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    return seed


async def accept_responsiva(client: Client, headers: dict[str, str]) -> None:
    resp = await client.post("/v1/me/responsiva", json={"accept": True}, headers=headers)
    assert resp.status_code == 200, resp.text


async def ready_gestor(
    client: Client, admin: dict[str, str], account_id: str, at: datetime | None = None
) -> tuple[str, dict[str, str], str]:
    """A gestor assigned to the account, responsiva accepted, TOTP enrolled: (id, headers, seed)."""
    gestor_id = await create_gestor(client, admin)
    headers = await gestor_token(client, admin, gestor_id)
    assigned = await client.post(
        f"/v1/accounts/{account_id}/gestores", json={"gestor_id": gestor_id}, headers=admin
    )
    assert assigned.status_code == 201, assigned.text
    await accept_responsiva(client, headers)
    seed = await enrol(client, headers, at)
    return gestor_id, headers, seed


async def events(client: Client, *, after: int = 0, **match: Any) -> list[AuditEvent]:
    """Audit events after seq ``after`` whose columns equal ``match``."""
    query = select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq)
    for key, value in match.items():
        query = query.where(getattr(AuditEvent, key) == value)
    async with runtime_of(client).sessions() as session:
        return list(await session.scalars(query))


async def head_seq(client: Client) -> int:
    async with runtime_of(client).sessions() as session:
        seq = await session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    return int(seq or 0)
