"""A realistic, deterministic fictional body, for tests, the benchmark and previews.

Sizes are parameters so the benchmark can ask for 1,000 accounts and 200 gestores.
Nothing here is secret: there are no secrets in document content to fake.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from service.documents.content import (
    AnnexRow,
    AuditHead,
    Contact,
    CustodyAccount,
    DirectoryRow,
    Gestor,
    HandoverActa,
    Holder,
    Obligation,
    OicRepresentative,
    Party,
    SecurityProtocol,
)
from service.domain.masking import mask_channel
from service.domain.rotation import DeadlinePolicy

CDMX = timezone(timedelta(hours=-6))
T0 = datetime(2025, 3, 14, 10, 30, tzinfo=CDMX)
SUJETO = "Ayuntamiento de Santa María del Río"
SIGLAS = "ASMR"
AREAS = (
    "Comunicación Social",
    "Protección Civil",
    "Presidencia Municipal",
    "Desarrollo Social",
    "Seguridad Pública",
)
PLATFORMS = ("facebook", "x", "instagram", "youtube", "tiktok", "threads")
HOSTS = {
    "facebook": "https://www.facebook.com/",
    "x": "https://x.com/",
    "instagram": "https://www.instagram.com/",
    "youtube": "https://www.youtube.com/@",
    "tiktok": "https://www.tiktok.com/@",
    "threads": "https://www.threads.net/@",
}
NAMES = (
    "María José Peña Núñez",
    "José Ángel Ibáñez Ortiz",
    "Itzel Sofía Cárdenas Muñoz",
    "Raúl Andrés Gómez Zúñiga",
    "Lucía Fernanda Ávila Treviño",
    "Óscar Iván Méndez Villaseñor",
)
CARGOS = (
    "Jefa del Departamento de Comunicación Social",
    "Analista de Redes Sociales Digitales",
    "Coordinador de Difusión",
    "Subdirectora de Imagen Institucional",
)
FIRMS = ("Estrategia Digital Ñandú, S.C.", "Contenidos Públicos del Bajío, S.A. de C.V.")
TWO_FACTOR = ("TOTP en custodia", "SMS al teléfono institucional", "Llave de seguridad física")
HEAD = AuditHead(seq=48213, hash="9f2c1e7a" * 8)


def _masked(value: str) -> str:
    masked = mask_channel(value)
    assert masked is not None
    return masked


def _plain(holder: Holder) -> Gestor:
    return Gestor(holder.name, holder.kind, holder.cargo, holder.provider)


def sample_gestor(i: int) -> Holder:
    """Every third gestor is an external provider; the rest are public servants."""
    name = f"{NAMES[i % len(NAMES)]}" + (f" {i // len(NAMES) + 1}" if i >= len(NAMES) else "")
    accepted = T0 - timedelta(days=30 + i)
    if i % 3 == 2:
        return Holder(name, "externo", provider=FIRMS[i % 2], responsiva_accepted_at=accepted)
    return Holder(name, "servidor_publico", cargo=CARGOS[i % 4], responsiva_accepted_at=accepted)


def _handle(i: int) -> tuple[str, str, str]:
    platform = PLATFORMS[i % len(PLATFORMS)]
    handle = f"asmr_{AREAS[i % len(AREAS)].split()[0].lower()}_{i}"
    return platform, f"@{handle}", HOSTS[platform] + handle


def sample_obligation(
    i: int, reason: str = "gestor_departure", overdue: bool = False
) -> Obligation:
    platform, handle, _ = _handle(i)
    triggered = T0 - timedelta(hours=30 if overdue else 2)
    return Obligation(
        f"ROT-{i:05d}", platform, handle, reason, triggered, triggered + timedelta(hours=24)
    )


def sample_protocol(accounts: int = 12, gestores: int = 8) -> SecurityProtocol:
    """A protocol over ``accounts`` accounts shared by ``gestores`` gestores."""
    people = [sample_gestor(g) for g in range(gestores)]
    rows = []
    for i in range(accounts):
        platform, handle, url = _handle(i)
        holders = tuple(people[(i + k) % gestores] for k in range(min(2, gestores)))
        rows.append(
            CustodyAccount(
                platform=platform,
                handle=handle,
                url=url,
                area=AREAS[i % len(AREAS)],
                kind="personal" if i % 11 == 10 else "oficial",
                verified=i % 4 != 3,
                two_factor_method=TWO_FACTOR[i % 3],
                recovery_channels=(
                    _masked(f"redes.{i}@santamariadelrio.gob.mx"),
                    _masked(f"+52 444 555 {i % 10000:04d}"),
                ),
                holders=holders,
            )
        )
    obligations = (
        sample_obligation(0, "gestor_departure", overdue=True),
        sample_obligation(1, "incident"),
    )
    return SecurityProtocol(
        sujeto_obligado=SUJETO,
        siglas=SIGLAS,
        areas=AREAS,
        accounts=tuple(rows),
        policy=DeadlinePolicy(),
        obligations=obligations[: min(2, accounts)],
        contacts=(
            Contact(
                "Seguridad informática (guardia)",
                NAMES[1],
                "seguridad@santamariadelrio.gob.mx, ext. 2101",
                30,
            ),
            Contact("Titular de Comunicación Social", NAMES[0], "ext. 2001", 60),
            Contact(
                "Órgano interno de control", "Lic. Ramón Téllez Ruíz", "oic@santamariadelrio.gob.mx"
            ),
        ),
        version=3,
        generated_at=T0,
        audit_head=HEAD,
    )


def sample_annex_row(i: int, gestores: int = 4) -> AnnexRow:
    platform, handle, url = _handle(i)
    return AnnexRow(
        platform=platform,
        handle=handle,
        url=url,
        kind="oficial",
        verified=i % 4 != 3,
        recovery_channels=(_masked(f"redes.{i}@santamariadelrio.gob.mx"),),
        two_factor_method=TWO_FACTOR[i % 3],
        two_factor_holder="custodia" if i % 3 == 0 else "Comunicación Social",
        credential_version=3 + i % 5,
        credential_created_at=T0 - timedelta(days=20 + i % 40),
        last_rotation_at=T0 - timedelta(days=20 + i % 40),
        last_rotation_reason=("max_age", "gestor_departure", "manual")[i % 3],
        gestores=tuple(_plain(sample_gestor((i + k) % max(gestores, 1))) for k in range(2)),
        outgoing_last_retrieval=T0 - timedelta(days=1 + i % 9) if i % 5 else None,
        checkouts_in_period=i % 17,
        open_obligations=(sample_obligation(i, "handover"),) if i % 7 == 0 else (),
    )


def sample_acta(accounts: int = 6, *, closed: bool = True, gestores: int = 4) -> HandoverActa:
    """An acta for the Comunicación Social área with ``accounts`` annex rows."""
    annex = tuple(sample_annex_row(i, gestores) for i in range(accounts))
    return HandoverActa(
        folio="ER-ASMR-2025-007",
        sujeto_obligado=SUJETO,
        area="Comunicación Social",
        place="Sala de Cabildo, Palacio Municipal, Santa María del Río, S.L.P.",
        started_at=T0,
        ended_at=T0 + timedelta(hours=2, minutes=15) if closed else None,
        reason="Conclusión del encargo de la titular del área",
        outgoing=Party("María José Peña Núñez", "Jefa del Departamento de Comunicación Social"),
        incoming=Party("Raúl Andrés Gómez Zúñiga", "Jefe del Departamento de Comunicación Social"),
        incoming_identity="gestor:rgomez",
        oic_representative=OicRepresentative(
            "Lic. Ramón Téllez Ruíz",
            "Auditor del Órgano Interno de Control",
            oficio="OIC/0457/2025",
        ),
        witnesses=(
            Party("Itzel Sofía Cárdenas Muñoz", "Analista de Redes Sociales Digitales"),
            Party("Óscar Iván Méndez Villaseñor", "Coordinador de Difusión"),
        ),
        annex=annex,
        audit_head=HEAD if closed else None,
        pending=tuple(o for r in annex for o in r.open_obligations),
    )


def sample_directory(rows: int = 20, *, gestores: int = 6) -> list[DirectoryRow]:
    """``rows`` public directory rows; every tenth is a personal account."""
    out = []
    for i in range(rows):
        platform, handle, url = _handle(i)
        personal = i % 10 == 9
        out.append(
            DirectoryRow(
                sujeto_obligado=SUJETO,
                area=AREAS[i % len(AREAS)],
                platform=platform,
                kind="personal" if personal else "oficial",
                account_name=handle,
                url=url,
                verified=i % 4 != 3,
                updated_at=date(2025, 3, 1) + timedelta(days=i % 13),
                gestores=()
                if personal
                else tuple(_plain(sample_gestor((i + k) % gestores)) for k in range(2)),
            )
        )
    return out
