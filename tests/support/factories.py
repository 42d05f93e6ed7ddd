"""The one way tests build data: through the API, as an admin and a gestor would.

Every builder asserts its request succeeded, so a broken setup fails where it
broke. The few states the API cannot express (a backdated row, an account the
API would refuse today, a write that bypasses the API) are built at the end of
this module by functions whose names say so: ``insert_*`` and
``write_credential_bypassing_api``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp

from service.audit.log import Entry
from service.clock import FrozenClock, rfc3339
from service.db.models import Account, Assignment, Checkout, CredentialVersion, Gestor
from service.domain.events import CredentialWritten, ObligationSatisfied
from service.principal import SYSTEM, Caller, Principal
from service.runtime import Runtime
from service.tokens.usecases import issue_token
from service.vault.client import SecretVersion
from tests.support.apps import AppFactory, Client, frozen

Headers = dict[str, str]


def uid(prefix: str, digits: int = 10) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:digits]}"


def handle_uid(prefix: str = "cuenta") -> str:
    """A fresh handle every platform admits: letters and digits, 15 at most (X's limit)."""
    return f"{prefix}{uuid.uuid4().hex}"[:15]


# -- accounts -----------------------------------------------------------------


def account_body(**fields: Any) -> dict[str, Any]:
    """A valid POST /v1/accounts body for an official account, ``fields`` over it."""
    handle = fields.get("handle") or handle_uid()
    return {
        "platform": "x",
        "handle": handle,
        "url": f"https://x.com/{handle}",
        "display_name": "Cuenta oficial de prueba",
        "area": "Comunicación Social",
        "kind": "oficial",
        **fields,
    }


async def create_account(client: Client, admin: Headers, **fields: Any) -> str:
    resp = await client.post("/v1/accounts", json=account_body(**fields), headers=admin)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def put_credential(
    client: Client,
    headers: Headers,
    account_id: str,
    password: str,
    *,
    expect: int = 200,
    username: str = "oficial",
    **extra: Any,
) -> Any:
    """PUT a credential; the answer's body, once its status is ``expect``."""
    resp = await client.put(
        f"/v1/accounts/{account_id}/credential",
        json={"username": username, "password": password, **extra},
        headers=headers,
    )
    assert resp.status_code == expect, resp.text
    return resp.json()


async def account_with_credential(
    client: Client, admin: Headers, password: str = "Clave-Inicial-1", **extra: Any
) -> str:
    """An official account holding version 1 of a credential (``extra``: its other fields)."""
    account_id = await create_account(client, admin)
    await put_credential(client, admin, account_id, password, **extra)
    return account_id


def last_day() -> date:
    """A servant's last day in office: a few days back, so a clock never passes real time."""
    return datetime.now(UTC).date() - timedelta(days=3)


async def frozen_on_last_day(make_client: AppFactory) -> tuple[Client, FrozenClock, Headers]:
    """A new app whose clock is ten minutes before the end of ``last_day()`` (UTC)."""
    at = datetime.combine(last_day(), time(23, 50, 5), UTC)
    return await frozen(make_client, at, "handback-admin")


async def managed_account(
    client: Client, admin: Headers, versions: int = 2, term_ends_on: date | None = None
) -> str:
    """A personal account an área administers until ``term_ends_on`` (default ``last_day()``),
    with ``versions`` credential versions (none: never given a credential)."""
    account_id = await create_account(
        client,
        admin,
        kind="personal",
        owner_name="Titular de la Unidad",
        owner_cargo="Titular",
        hierarchy_level=1,
        managed_by_area=True,
        term_ends_on=(term_ends_on or last_day()).isoformat(),
    )
    for n in range(1, versions + 1):
        await put_credential(client, admin, account_id, f"Clave-Personal-{n}", username="titular")
    return account_id


async def unmanaged_personal_account(client: Client, admin: Headers) -> str:
    """A servant's personal account no área administers: the body may not hold it."""
    return await create_account(
        client,
        admin,
        kind="personal",
        owner_name="Titular",
        owner_cargo="Director",
        hierarchy_level=2,
        managed_by_area=False,
    )


# -- gestores -------------------------------------------------------------------


async def create_gestor(client: Client, admin: Headers, **fields: Any) -> str:
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


async def gestor_token(client: Client, admin: Headers, gestor_id: str) -> Headers:
    resp = await client.post(
        f"/v1/gestores/{gestor_id}/tokens", json={"name": uid("tok")}, headers=admin
    )
    assert resp.status_code == 201, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


async def assign(client: Client, admin: Headers, account_id: str, gestor_id: str) -> None:
    resp = await client.post(
        f"/v1/accounts/{account_id}/gestores", json={"gestor_id": gestor_id}, headers=admin
    )
    assert resp.status_code == 201, resp.text


async def depart(client: Client, admin: Headers, gestor_id: str, reason: str = "baja") -> Any:
    """Record the gestor's departure; the case file."""
    resp = await client.post(
        f"/v1/gestores/{gestor_id}/departure", json={"reason": reason}, headers=admin
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def seed_of(otpauth_uri: str) -> str:
    """The base32 secret an authenticator app would read from the URI."""
    return parse_qs(urlsplit(otpauth_uri).query)["secret"][0]


def code_at(seed: str, at: datetime) -> str:
    return str(pyotp.TOTP(seed).at(at))


async def enrol(client: Client, headers: Headers, at: datetime | None = None) -> str:
    """Enrol and confirm TOTP with the code of the step before ``at``; return the seed."""
    resp = await client.post("/v1/me/totp/enrollment", headers=headers)
    assert resp.status_code == 201, resp.text
    seed = seed_of(resp.json()["otpauth_uri"])
    when = at or datetime.now(UTC)
    code = str(pyotp.TOTP(seed).at(when, counter_offset=-1))
    confirmed = await client.post("/v1/me/totp/confirm", json={"code": code}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    return seed


async def accept_responsiva(client: Client, headers: Headers) -> None:
    resp = await client.post("/v1/me/responsiva", json={"accept": True}, headers=headers)
    assert resp.status_code == 200, resp.text


async def ready_gestor(
    client: Client, admin: Headers, account_id: str, at: datetime | None = None
) -> tuple[str, Headers, str]:
    """A gestor assigned to the account, responsiva accepted, TOTP enrolled: (id, headers, seed)."""
    gestor_id = await create_gestor(client, admin)
    headers = await gestor_token(client, admin, gestor_id)
    await assign(client, admin, account_id, gestor_id)
    await accept_responsiva(client, headers)
    seed = await enrol(client, headers, at)
    return gestor_id, headers, seed


# -- checkouts and rotations -----------------------------------------------------


def checkout_body(code: str, **extra: Any) -> dict[str, Any]:
    return {"totp_code": code, "reason": "publicar comunicado", **extra}


async def check_out(
    client: Client, account_id: str, headers: Headers, code: str, **extra: Any
) -> str:
    """A granted checkout's id."""
    resp = await client.post(
        f"/v1/accounts/{account_id}/checkouts", json=checkout_body(code, **extra), headers=headers
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["checkout_id"])


async def open_obligation(
    client: Client, admin: Headers, account_id: str, reason: str = "revisión"
) -> dict[str, Any]:
    """A manual rotation obligation, as the API answers it."""
    resp = await client.post(
        "/v1/rotations", json={"account_id": account_id, "reason": reason}, headers=admin
    )
    assert resp.status_code == 201, resp.text
    found: dict[str, Any] = resp.json()
    return found


def incident_body(account_ids: list[str], **fields: Any) -> dict[str, Any]:
    """A POST /v1/incidents body, detected ten minutes ago (real time), ``fields`` over it."""
    return {
        "type": "acceso_no_autorizado",
        "account_ids": account_ids,
        "description": "Inicio de sesión desde un dispositivo desconocido",
        "detected_at": rfc3339(datetime.now(UTC) - timedelta(minutes=10)),
        **fields,
    }


async def report_incident(
    client: Client, headers: Headers, account_ids: list[str], **fields: Any
) -> dict[str, Any]:
    """A reported incident, as the API answers it."""
    resp = await client.post(
        "/v1/incidents", json=incident_body(account_ids, **fields), headers=headers
    )
    assert resp.status_code == 201, resp.text
    found: dict[str, Any] = resp.json()
    return found


# -- audit events -------------------------------------------------------------------


async def add_events(rt: Runtime, n: int, label: str = "test") -> None:
    """Append ``n`` events, with non-ASCII text so the canonical rule is exercised."""
    for i in range(n):
        await rt.record(
            SYSTEM,
            Entry(
                "audit.queried",
                "ok",
                subject=f"{label}:{i}",
                reason="revisión de área — ñandú",
                details={"i": i, "label": label, "nested": {"b": [1, "dos"], "a": None}},
            ),
        )


# -- what the API cannot make ----------------------------------------------------------


async def insert_backdated_account(rt: Runtime, **fields: Any) -> str:
    """An account row with facts the API sets only as time passes (e.g. an old credential)."""
    now = rt.clock.now()
    account_id = str(uuid.uuid4())
    async with rt.unit_of_work(SYSTEM) as uow:
        uow.session.add(
            Account(
                **account_body(**{"id": account_id, "created_at": now, "updated_at": now, **fields})
            )
        )
    return account_id


async def insert_legacy_personal_account(rt: Runtime, area: str, **fields: Any) -> str:
    """A personal row the API would refuse today (e.g. level 6), as old data could hold.

    Returns its handle.
    """
    handle = f"legacy_{uuid.uuid4().hex[:8]}"
    await insert_backdated_account(
        rt,
        platform="facebook",
        handle=handle,
        url=f"https://facebook.example/{handle}",
        display_name="Cuenta personal",
        area=area,
        kind="personal",
        owner_name="Servidor",
        owner_cargo="Jefe de Oficina",
        in_directory=True,
        **fields,
    )
    return handle


async def insert_gestor(rt: Runtime, **fields: Any) -> str:
    """A gestor row with TOTP already active, dated where the API cannot (``created_at``)."""
    gestor_id = str(uuid.uuid4())
    values: dict[str, Any] = {
        "id": gestor_id,
        "name": uid("Gestor"),
        "email": f"{uid('g')}@example.gob.mx",
        "kind": "servidor_publico",
        "cargo": "Jefe de departamento",
        "area": "Comunicación Social",
        "created_at": rt.clock.now(),
        "totp_state": "active",
        "totp_failures": 0,
        **fields,
    }
    async with rt.unit_of_work(SYSTEM) as uow:
        uow.session.add(Gestor(**values))
    return gestor_id


async def insert_token(rt: Runtime, gestor_id: str) -> Headers:
    """A gestor token issued by the use case itself, for a gestor made by insert_gestor."""
    issued = await issue_token(rt, SYSTEM, role="gestor", name=uid("gestor"), gestor_id=gestor_id)
    return {"Authorization": f"Bearer {issued.token}"}


async def insert_assignment(
    rt: Runtime, account_id: str, gestor_id: str, *, at: datetime, ended_at: datetime | None = None
) -> str:
    """An assignment period dated where the API cannot date one (in the past, or ahead)."""
    assignment_id = str(uuid.uuid4())
    async with rt.unit_of_work(SYSTEM) as uow:
        uow.session.add(
            Assignment(
                id=assignment_id,
                account_id=account_id,
                gestor_id=gestor_id,
                assigned_at=at,
                assigned_by="test",
                ended_at=ended_at,
                ended_reason="unassigned" if ended_at else None,
            )
        )
    return assignment_id


async def insert_backdated_checkout(
    rt: Runtime, account_id: str, gestor_id: str, *, at: datetime
) -> str:
    """A still-open checkout granted at ``at`` (the retrieval a case file reports)."""
    checkout_id = str(uuid.uuid4())
    async with rt.unit_of_work(SYSTEM) as uow:
        uow.session.add(
            Checkout(
                id=checkout_id,
                account_id=account_id,
                gestor_id=gestor_id,
                reason="publicación",
                granted_at=at,
                expires_at=at + timedelta(minutes=30),
                rotation_required=False,
            )
        )
    return checkout_id


def admin_caller() -> Caller:
    return Caller(Principal(token_id="helper", name="helper", role="admin"))


async def write_credential_bypassing_api(
    rt: Runtime, account_id: str, password: str, *, rotation: bool = True
) -> tuple[SecretVersion, ObligationSatisfied | None]:
    """What the credential write does, minus the API's refusals (e.g. the same password):
    Vault with CAS, a version row, the event. The version, and the obligation it satisfied."""
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
