"""``custodia demo seed``: a realistic fictional body, through the real use cases.

Credentials go to Vault through the credential use case, gestores accept the
responsiva and enrol TOTP as they would, one checks a password out and in,
one departs, an incident is reported and one área is handed over. Random
passwords and seeds are generated here and never printed. Refuses to run twice.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

from service.accounts.schemas import AccountIn
from service.accounts.usecases import create_account, list_accounts
from service.checkouts.grant import grant
from service.checkouts.usecases import checkin
from service.credentials.schemas import CredentialIn
from service.credentials.usecases import write_credential
from service.departures.usecases import depart
from service.domain.totp import code_for_step, time_step
from service.errors import DomainError
from service.gestores.schemas import GestorIn
from service.gestores.usecases import assign, create_gestor
from service.handovers.closing import close
from service.handovers.schemas import HandoverIn, IncomingIn, OicIn, OutgoingIn, PartyIn
from service.handovers.usecases import create
from service.incidents.usecases import report
from service.me.usecases import accept_responsiva, confirm, enrol
from service.principal import Caller, Principal
from service.runtime import Runtime, build_runtime
from service.settings import Settings

MARK = "demo.asmr.comunicacion"  # the first handle: its presence means "already seeded"
# Not a token: the audit trail names this actor "token:demo-seed".
ADMIN = Caller(Principal(token_id="demo-seed", name="custodia demo seed", role="admin"))  # noqa: S106
DOMAIN = "santamariadelrio.gob.mx"
# (área, platform, handle, verified)
ACCOUNTS = (
    ("Comunicación Social", "facebook", MARK, True),
    ("Comunicación Social", "x", "asmr_noticias", True),
    ("Comunicación Social", "instagram", "demo_asmr_imagen", False),
    ("Protección Civil", "x", "demo_pc_alertas", True),
    ("Protección Civil", "facebook", "demo.pc.santamaria", False),
    ("Presidencia Municipal", "youtube", "demo_presidencia_envivo", True),
    ("Presidencia Municipal", "tiktok", "demo_presidencia_tt", False),
    ("Desarrollo Social", "threads", "demo_ds_programas", False),
)
HOSTS = {
    "facebook": "https://www.facebook.com/",
    "x": "https://x.com/",
    "instagram": "https://www.instagram.com/",
    "youtube": "https://www.youtube.com/@",
    "tiktok": "https://www.tiktok.com/@",
    "threads": "https://www.threads.net/@",
}
# (key, name, kind, cargo or firm, área)
GESTORES = (
    ("mjpena", "María José Peña Núñez", "servidor_publico", "Jefa de Comunicación Social", 0),
    ("oimendez", "Óscar Iván Méndez Villaseñor", "servidor_publico", "Jefe de Comunicación", 0),
    ("jaibanez", "José Ángel Ibáñez Ortiz", "servidor_publico", "Analista de Redes", 3),
    ("iscardenas", "Itzel Sofía Cárdenas Muñoz", "externo", "Estrategia Digital Ñandú, S.C.", 0),
    ("lfavila", "Lucía Fernanda Ávila Treviño", "externo", "Contenidos del Bajío, S.A.", 5),
)
ASSIGN = {  # gestor key -> account indexes
    "mjpena": (0, 1, 2),
    "iscardenas": (0, 2, 5),
    "jaibanez": (3, 4, 7),
    "lfavila": (5, 6),
}


def _secret() -> str:
    return secrets.token_urlsafe(18)


def _platform_seed() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _gestor_caller(gestor_id: str, name: str) -> Caller:
    return Caller(Principal(token_id=f"demo-{gestor_id[:8]}", name=name, role="gestor",
                            gestor_id=gestor_id))  # fmt: skip


async def _already_seeded(rt: Runtime) -> bool:
    accounts = await list_accounts(rt, area=None, kind=None, include_retired=True)
    return any(a.handle == MARK for a in accounts)


async def seed(rt: Runtime) -> list[str]:
    """Create the body; answer lines describing what was created (no secrets)."""
    lines: list[str] = []
    ids: list[str] = []
    for i, (area, platform, handle, verified) in enumerate(ACCOUNTS):
        account = await create_account(
            rt,
            ADMIN,
            AccountIn(
                platform=platform,  # type: ignore[arg-type]
                handle=handle,
                url=HOSTS[platform] + handle,
                display_name=f"{area} — Ayuntamiento de Santa María del Río",
                area=area,
                kind="oficial",
                verified=verified,
            ),
        )
        cred = CredentialIn(
            username=f"{handle}@{DOMAIN}",
            password=_secret(),
            recovery_email=f"redes.{handle}@{DOMAIN}",
            recovery_phone=f"+52 444 555 {1000 + i:04d}",
            totp_secret=_platform_seed() if i % 2 == 0 else None,
            backup_codes=[secrets.token_hex(4) for _ in range(5)] if i % 2 == 0 else None,
        )
        await write_credential(rt, ADMIN, account.id, cred, reason="alta en custodia (demo)")
        ids.append(account.id)
        lines.append(f"account  {area} · {platform} · @{handle} (credential v1 in Vault)")
    personal = await create_account(
        rt,
        ADMIN,
        AccountIn(
            platform="x", handle="presidenta_smr", url="https://x.com/presidenta_smr",
            display_name="Presidenta Municipal", area="Presidencia Municipal", kind="personal",
            owner_name="Lucía Téllez Ruíz", owner_cargo="Presidenta Municipal",
            hierarchy_level=0, in_directory=True,
        ),
    )  # fmt: skip
    lines.append(f"account  personal de servidor pública listed in the directory ({personal.id})")
    gestores: dict[str, str] = {}
    for key, name, kind, what, area_i in GESTORES:
        g = await create_gestor(
            rt,
            ADMIN,
            GestorIn(
                name=name,
                email=f"{key}@{DOMAIN}",
                kind=kind,  # type: ignore[arg-type]
                area=ACCOUNTS[area_i][0],
                cargo=what if kind == "servidor_publico" else None,
                provider=what if kind == "externo" else None,
            ),
        )
        gestores[key] = g.id
        lines.append(f"gestor   {name} ({kind}) {g.id}")
    for key, indexes in ASSIGN.items():
        for i in indexes:
            await assign(rt, ADMIN, ids[i], gestores[key])
    for key in ("mjpena", "iscardenas", "jaibanez"):
        await accept_responsiva(rt, _gestor_caller(gestores[key], key), True)
    mj = _gestor_caller(gestores["mjpena"], "mjpena")
    otp = await _ready_gestor_after_responsiva(rt, mj)
    out = await grant(
        rt, mj, ids[0], totp_code=code_for_step(otp, time_step(rt.clock.now())),
        reason="Publicación del aviso de protección civil", minutes=15,
    )  # fmt: skip
    await checkin(rt, mj, out.checkout_id, None)
    del out  # the credential it carried is dropped unread
    lines.append("checkout one password taken out and checked in by María José Peña Núñez")
    await depart(rt, ADMIN, gestores["jaibanez"], reason="Renuncia voluntaria (demo)")
    lines.append("departure José Ángel Ibáñez Ortiz: access ended, rotation obligations opened")
    incident = await report(
        rt, ADMIN, type_="acceso_no_autorizado", account_ids=[ids[5]],
        description="Publicación no reconocida en la transmisión en vivo (demo)",
        detected_at=rt.clock.now() - timedelta(minutes=20),
    )  # fmt: skip
    lines.append(f"incident acceso no autorizado on @{ACCOUNTS[5][2]} ({incident.id})")
    handover = await create(rt, ADMIN, _handover(gestores))
    await close(rt, ADMIN, handover.id)
    lines.append(f"handover {handover.folio} Comunicación Social, closed ({handover.id})")
    return lines


async def _ready_gestor_after_responsiva(rt: Runtime, gestor: Caller) -> str:
    uri = (await enrol(rt, gestor)).otpauth_uri
    otp = parse_qs(urlsplit(uri).query)["secret"][0]
    await confirm(rt, gestor, code_for_step(otp, time_step(rt.clock.now()) - 1))
    return otp


def _handover(gestores: dict[str, str]) -> HandoverIn:
    cdmx = timezone(timedelta(hours=-6))
    return HandoverIn(
        area="Comunicación Social",
        outgoing=OutgoingIn("María José Peña Núñez", "Jefa de Comunicación Social",
                            gestor_id=gestores["mjpena"]),
        incoming=IncomingIn("Óscar Iván Méndez Villaseñor", "Jefe de Comunicación Social",
                            gestor_id=gestores["oimendez"]),
        oic_representative=OicIn("Lic. Ramón Téllez Ruíz", "Auditor del Órgano Interno de Control",
                                 oficio="OIC/0457/2026"),
        witnesses=[PartyIn("Itzel Sofía Cárdenas Muñoz", "Prestadora de servicios externa"),
                   PartyIn("Raúl Andrés Gómez Zúñiga", "Coordinador de Difusión")],
        place="Sala de Cabildo, Palacio Municipal, Santa María del Río, S.L.P.",
        reason="Conclusión del encargo de la titular del área",
        started_at=datetime.now(UTC).astimezone(cdmx),
    )  # fmt: skip


async def run_demo_seed(settings: Settings) -> int:
    rt = build_runtime(settings)
    try:
        await rt.start()
        if await _already_seeded(rt):
            print(f"custodia demo seed: this instance is already seeded (@{MARK} exists); "
                  "nothing was changed")  # fmt: skip
            return 1
        # Fail before writing anything if Vault cannot take the credentials: the
        # write path's first calls (fingerprint, KV metadata), without reading a secret.
        await rt.vault.fingerprint("custodia-demo-preflight")
        await rt.vault.credential_versions("custodia-demo-preflight")
        lines = await seed(rt)
    except DomainError as exc:
        print(f"custodia demo seed: {exc.title}: {exc.detail}; nothing was seeded")
        return 1
    finally:
        await rt.stop()
    print("\n".join(lines))
    print(
        "\nDocuments: GET /v1/documents/security-protocol?format=pdf (admin or auditor token),"
        " GET /v1/handovers, GET /v1/public/directory?format=csv (no login).\n"
        "Set CUSTODIA_SUJETO_OBLIGADO, CUSTODIA_SUJETO_OBLIGADO_SIGLAS, CUSTODIA_AREAS, "
        "CUSTODIA_SECURITY_CONTACT and CUSTODIA_OIC_CONTACT to name the body on them."
    )
    return 0
