"""A realistic public body seeded through the real API, with secret canaries written to Vault.

Each call makes its own áreas (unique names), so tests on the shared session
databases assert only about what they created.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyotp

from tests.support.apps import Client
from tests.support.factories import (
    accept_responsiva,
    assign,
    check_out,
    code_at,
    create_account,
    create_gestor,
    depart,
    enrol,
    gestor_token,
    put_credential,
    report_incident,
    uid,
)

Headers = dict[str, str]


# Account URLs must be on the platform's own domain.
HOSTS = {
    "facebook": "https://www.facebook.com/",
    "x": "https://x.com/",
    "instagram": "https://www.instagram.com/",
    "youtube": "https://www.youtube.com/@",
    "tiktok": "https://www.tiktok.com/@",
}


@dataclass
class Body:
    """What was seeded: ids, names and the canaries no document may contain."""

    comunicacion: str
    proteccion: str
    accounts: dict[str, str] = field(default_factory=dict)  # label -> id
    handles: dict[str, str] = field(default_factory=dict)  # label -> handle
    gestores: dict[str, str] = field(default_factory=dict)  # label -> id
    names: dict[str, str] = field(default_factory=dict)  # label -> gestor name
    canaries: list[str] = field(default_factory=list)
    outgoing_headers: Headers = field(default_factory=dict)


async def _account(client: Client, admin: Headers, body: Body, label: str, **f: Any) -> str:
    handle = f"{label.replace('_', '')[:7]}{uuid.uuid4().hex[:8]}"  # every platform admits it
    platform = f.pop("platform", "x")
    account_id = await create_account(
        client,
        admin,
        handle=handle,
        platform=platform,
        url=HOSTS[platform] + handle,
        display_name=f"Cuenta {label}",
        **f,
    )
    body.accounts[label] = account_id
    body.handles[label] = handle
    return account_id


async def _credential(client: Client, admin: Headers, body: Body, account_id: str) -> None:
    password = f"CANARYPW{uuid.uuid4().hex}"
    codes = [f"CANARYBC{uuid.uuid4().hex[:12]}" for _ in range(3)]
    seed = pyotp.random_base32(32)
    local = f"canarymail{uuid.uuid4().hex[:8]}"
    phone = f"+52 55 {uuid.uuid4().int % 10**8:08d}"
    await put_credential(
        client,
        admin,
        account_id,
        password,
        username="comunicacion.oficial",
        recovery_email=f"{local}@santamaria.gob.mx",
        recovery_phone=phone,
        totp_secret=seed,
        backup_codes=codes,
    )
    body.canaries += [password, *codes, seed, local, phone, phone.replace(" ", "")]


async def _gestor(client: Client, admin: Headers, body: Body, label: str, **f: Any) -> str:
    name = f.pop("name")
    gestor_id = await create_gestor(client, admin, name=name, **f)
    body.gestores[label] = gestor_id
    body.names[label] = name
    return gestor_id


async def seed_body(client: Client, admin: Headers) -> Body:
    """Two áreas, four platforms, internal and external gestores, a checkout, a departure,
    an incident, a retired account and personal accounts for the directory rules."""
    body = Body(comunicacion=uid("Comunicación Social", 8), proteccion=uid("Protección Civil", 8))
    com, pc = body.comunicacion, body.proteccion
    fb = await _account(client, admin, body, "fb", platform="facebook", area=com, verified=True)
    xa = await _account(client, admin, body, "x", platform="x", area=com)
    ig = await _account(client, admin, body, "ig", platform="instagram", area=com, verified=True)
    yt = await _account(client, admin, body, "yt", platform="youtube", area=pc)
    retired = await _account(client, admin, body, "retired", platform="tiktok", area=com)
    await _account(
        client, admin, body, "personal_ok", area=pc, kind="personal",
        owner_name="Lucía Fernanda Ávila Treviño", owner_cargo="Presidenta Municipal",
        hierarchy_level=0, in_directory=True,
    )  # fmt: skip
    await _account(
        client, admin, body, "personal_hidden", area=pc, kind="personal",
        owner_name="Raúl Gómez Zúñiga", owner_cargo="Director de Área",
        hierarchy_level=3, in_directory=False,
    )  # fmt: skip
    for account_id in (fb, xa, ig, yt, retired):
        await _credential(client, admin, body, account_id)
    out = await _gestor(
        client, admin, body, "out", name=uid("María José Peña Núñez", 8), area=com,
        cargo="Jefa del Departamento de Comunicación Social",
    )  # fmt: skip
    await _gestor(
        client, admin, body, "in", name=uid("Óscar Iván Méndez Villaseñor", 8), area=com,
        cargo="Jefe del Departamento de Comunicación Social",
    )  # fmt: skip
    ext = await _gestor(
        client, admin, body, "ext", name=uid("Itzel Cárdenas", 8), area=com, kind="externo",
        provider="Estrategia Digital Ñandú, S.C.", cargo=None,
    )  # fmt: skip
    dep = await _gestor(
        client, admin, body, "dep", name=uid("José Ángel Ibáñez", 8), area=pc,
        cargo="Analista de Redes Sociales Digitales",
    )  # fmt: skip
    for account_id in (fb, xa, ig):
        await assign(client, admin, account_id, out)
    await assign(client, admin, fb, ext)
    await assign(client, admin, xa, dep)
    # The outgoing official accepts the responsiva and takes the Facebook password out.
    headers = await gestor_token(client, admin, out)
    await accept_responsiva(client, headers)
    seed = await enrol(client, headers)
    body.outgoing_headers = headers
    checkout_id = await check_out(
        client, fb, headers, code_at(seed, datetime.now(UTC)), reason="Publicación del aviso"
    )
    checked = await client.post(f"/v1/checkouts/{checkout_id}/checkin", json={}, headers=headers)
    assert checked.status_code == 200, checked.text
    await depart(client, admin, dep, "Renuncia voluntaria")
    await report_incident(
        client,
        admin,
        [yt],
        description="Publicación no reconocida",
        detected_at=datetime.now(UTC).isoformat(),
    )
    resp = await client.post(f"/v1/accounts/{retired}/retire", headers=admin)
    assert resp.status_code == 200, resp.text
    return body


def handover_body(body: Body, **overrides: Any) -> dict[str, Any]:
    """A complete POST /v1/handovers body for the Comunicación Social área."""
    data: dict[str, Any] = {
        "area": body.comunicacion,
        "outgoing": {
            "name": body.names["out"],
            "cargo": "Jefa del Departamento de Comunicación Social",
            "gestor_id": body.gestores["out"],
        },
        "incoming": {
            "name": body.names["in"],
            "cargo": "Jefe del Departamento de Comunicación Social",
            "gestor_id": body.gestores["in"],
        },
        "oic_representative": {
            "name": "Lic. Ramón Téllez Ruíz",
            "cargo": "Auditor del Órgano Interno de Control",
            "oficio": "OIC/0457/2026",
        },
        "witnesses": [
            {"name": "Ana Sofía Muñoz Peña", "cargo": "Analista de Difusión"},
            {"name": "Jesús Ñeco Ibarra", "cargo": "Coordinador de Diseño"},
        ],
        "place": "Sala de Cabildo, Palacio Municipal, Santa María del Río, S.L.P.",
        "reason": "Conclusión del encargo de la titular del área",
        "started_at": datetime.now(UTC).astimezone().isoformat(),
    }
    data.update(overrides)
    return data
