"""Helpers for the rotation, departure, incident and webhook tests.

Accounts, gestores, assignments and checkouts are inserted as rows where the
custody endpoints are not what a test is about; credentials always go through
the real Vault so created_time is Vault's own.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from service.db.models import Account, Assignment, Checkout, CredentialVersion, Gestor
from service.domain.events import CredentialWritten, ObligationSatisfied
from service.principal import SYSTEM, Caller, Principal
from service.runtime import Runtime
from service.tokens.usecases import issue_token
from service.vault.client import SecretVersion


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def seed_account(rt: Runtime, **fields: Any) -> str:
    now = rt.clock.now()
    account_id = str(uuid.uuid4())
    handle = f"cuenta{uuid.uuid4().hex[:9]}"  # X and Facebook syntax
    values: dict[str, Any] = {
        "id": account_id,
        "platform": "x",
        "handle": handle,
        "url": f"https://x.com/{handle}",
        "display_name": "Cuenta oficial de prueba",
        "area": "Comunicación Social",
        "kind": "oficial",
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    async with rt.unit_of_work(SYSTEM) as uow:
        session = uow.session
        session.add(Account(**values))
    return account_id


async def seed_gestor(rt: Runtime) -> str:
    gestor_id = str(uuid.uuid4())
    async with rt.unit_of_work(SYSTEM) as uow:
        session = uow.session
        session.add(
            Gestor(
                id=gestor_id,
                name=uid("Gestor"),
                email=f"{uid('g')}@example.gob.mx",
                kind="servidor_publico",
                cargo="Jefe de departamento",
                area="Comunicación Social",
                created_at=rt.clock.now(),
                totp_state="active",
                totp_failures=0,
            )
        )
    return gestor_id


async def assign(
    rt: Runtime,
    account_id: str,
    gestor_id: str,
    *,
    at: datetime | None = None,
    ended_at: datetime | None = None,
) -> str:
    assignment_id = str(uuid.uuid4())
    async with rt.unit_of_work(SYSTEM) as uow:
        session = uow.session
        session.add(
            Assignment(
                id=assignment_id,
                account_id=account_id,
                gestor_id=gestor_id,
                assigned_at=at or rt.clock.now(),
                assigned_by="test",
                ended_at=ended_at,
                ended_reason="unassigned" if ended_at else None,
            )
        )
    return assignment_id


async def open_checkout(
    rt: Runtime, account_id: str, gestor_id: str, *, at: datetime | None = None
) -> str:
    """A granted, still-open checkout row (the retrieval a case file reports)."""
    checkout_id = str(uuid.uuid4())
    granted = at or rt.clock.now()
    async with rt.unit_of_work(SYSTEM) as uow:
        session = uow.session
        session.add(
            Checkout(
                id=checkout_id,
                account_id=account_id,
                gestor_id=gestor_id,
                reason="publicación",
                granted_at=granted,
                expires_at=granted + timedelta(minutes=30),
                rotation_required=False,
            )
        )
    return checkout_id


async def gestor_headers(rt: Runtime, gestor_id: str) -> dict[str, str]:
    issued = await issue_token(rt, SYSTEM, role="gestor", name=uid("gestor"), gestor_id=gestor_id)
    return {"Authorization": f"Bearer {issued.token}"}


def admin_caller() -> Caller:
    return Caller(Principal(token_id="helper", name="helper", role="admin"))


async def write_through_service(
    rt: Runtime, account_id: str, password: str, *, rotation: bool = True
) -> tuple[SecretVersion, Any]:
    """What custody's credential write does: Vault with CAS, a version row, the hook.

    Returns the version and the obligation the hook satisfied (or None).
    """
    fp = await rt.vault.fingerprint(password)
    current = max(await rt.vault.credential_versions(account_id), default=0)
    known = (await rt.vault.read_fingerprints(account_id)).get(current) if current else None
    changed = known is not None and known != fp
    version = await rt.vault.write_credential(
        account_id, {"username": "oficial", "password": password}, cas=current
    )
    await rt.vault.write_fingerprint(account_id, version.version, fp)
    async with rt.unit_of_work(admin_caller()) as uow:
        session = uow.session
        session.add(
            CredentialVersion(
                account_id=account_id,
                version=version.version,
                created_time=version.created_time,
                written_by="token:helper",
                written_by_role="admin",
                reason="test",
                is_rotation=rotation and changed,
            )
        )
        account = await session.get(Account, account_id)
        assert account is not None
        account.credential_version = version.version
        account.credential_created_time = version.created_time
        answers = await uow.publish(
            CredentialWritten(account_id, version.version, version.created_time, changed)
        )
    satisfied = next((a for a in answers if isinstance(a, ObligationSatisfied)), None)
    return version, satisfied


CLOSE = b"Content-Length: 0\r\nConnection: close\r\n\r\n"


@dataclass
class Receiver:
    """A loopback HTTP server that records POSTs; mode: ok, fail (500) or hang."""

    mode: str = "ok"
    requests: list[dict[str, Any]] = field(default_factory=list)
    connections: int = 0
    server: asyncio.Server | None = None
    url: str = ""
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> Receiver:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def stop(self) -> None:
        self.released.set()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append({"line": lines[0], "headers": headers, "body": body})
            if self.mode == "hang":
                await self.released.wait()
                return
            status = b"200 OK" if self.mode == "ok" else b"500 Internal Server Error"
            writer.write(b"HTTP/1.1 " + status + b"\r\n" + CLOSE)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


# -- through custody's own endpoints (issue 3) --------------------------------


async def api_account(client: Any, admin: dict[str, str], password: str | None = None) -> str:
    handle = f"cuenta{uuid.uuid4().hex[:9]}"  # X and Facebook syntax
    resp = await client.post(
        "/v1/accounts",
        json={
            "platform": "facebook",
            "handle": handle,
            "url": f"https://facebook.com/{handle}",
            "display_name": "Cuenta oficial",
            "area": "Comunicación Social",
            "kind": "oficial",
        },
        headers=admin,
    )
    assert resp.status_code == 201, resp.text
    account_id = str(resp.json()["id"])
    if password is not None:
        await put_credential(client, admin, account_id, password, expect=200)
    return account_id


async def put_credential(
    client: Any, headers: dict[str, str], account_id: str, password: str, expect: int
) -> Any:
    resp = await client.put(
        f"/v1/accounts/{account_id}/credential",
        json={"username": "oficial", "password": password},
        headers=headers,
    )
    assert resp.status_code == expect, resp.text
    return resp.json()


@dataclass
class ApiGestor:
    id: str
    headers: dict[str, str]
    seed: str
    step: int = 0

    def next_code(self, now: datetime) -> str:
        """A code from a step within the window that this gestor has not used yet."""
        from service.domain.totp import code_for_step, time_step

        current = time_step(now)
        self.step = max(self.step + 1, current - 1)
        assert self.step <= current + 1, "out of unused steps in the window"
        return code_for_step(self.seed, self.step)


async def api_gestor(client: Any, admin: dict[str, str], accounts: list[str]) -> ApiGestor:
    """A gestor with a token, confirmed TOTP and accepted responsiva, assigned to accounts."""
    from urllib.parse import parse_qs, urlparse

    from service.clock import SystemClock

    resp = await client.post(
        "/v1/gestores",
        json={
            "name": uid("Gestora"),
            "email": f"{uid('g')}@example.gob.mx",
            "kind": "servidor_publico",
            "cargo": "Jefa de redes",
            "area": "Comunicación Social",
        },
        headers=admin,
    )
    assert resp.status_code == 201, resp.text
    gestor_id = str(resp.json()["id"])
    token = await client.post(
        f"/v1/gestores/{gestor_id}/tokens", json={"name": "movil"}, headers=admin
    )
    assert token.status_code == 201, token.text
    headers = {"Authorization": f"Bearer {token.json()['token']}"}
    enrol = await client.post("/v1/me/totp/enrollment", headers=headers)
    assert enrol.status_code in (200, 201), enrol.text
    seed = parse_qs(urlparse(enrol.json()["otpauth_uri"]).query)["secret"][0]
    gestor = ApiGestor(gestor_id, headers, seed)
    confirm = await client.post(
        "/v1/me/totp/confirm", json={"code": gestor.next_code(SystemClock().now())}, headers=headers
    )
    assert confirm.status_code in (200, 201, 204), confirm.text
    accepted = await client.post("/v1/me/responsiva", json={"accept": True}, headers=headers)
    assert accepted.status_code in (200, 201), accepted.text
    for account_id in accounts:
        assigned = await client.post(
            f"/v1/accounts/{account_id}/gestores", json={"gestor_id": gestor_id}, headers=admin
        )
        assert assigned.status_code == 201, assigned.text
    return gestor
