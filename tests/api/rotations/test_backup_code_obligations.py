"""Who saw a backup code, or wrote the platform seed, and leaves owes new ones (issue 12,
item 2; DOMAIN.md rule 4): the obligation records what it requires and why, the case file
shows it, and a password-only rotation does not satisfy it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
import pyotp

from service.db.models import Account, CredentialVersion
from service.departures.schemas import CaseFile
from service.domain.events import CredentialWritten, ObligationSatisfied
from service.runtime import Runtime
from service.vault.types import SecretVersion
from tests.support.apps import AppFactory, Client, bearer, frozen, runtime_of
from tests.support.backup_codes import CODES, PLATFORM_SEED, check_out_now, holder, reveal
from tests.support.factories import account_with_credential, admin_caller, ready_gestor

NEW_SEED = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"
NEW_CODES = ["NUEVO-0000", "NUEVO-1111"]
SAW = "vio códigos de respaldo"
KNEW = "conocía la contraseña"
WROTE = "escribió la semilla TOTP de la plataforma"


async def wired_write(
    rt: Runtime, account_id: str, secret: dict[str, Any], replaced: set[str]
) -> ObligationSatisfied | None:
    """A version as credentials records it once it says what it replaced (the lead wires it)."""
    current = max(await rt.vault.credential_versions(account_id), default=0)
    version: SecretVersion = await rt.vault.write_credential(account_id, secret, cas=current)
    await rt.vault.write_fingerprint(
        account_id, version.version, await rt.vault.fingerprint(secret["password"])
    )
    async with rt.unit_of_work(admin_caller()) as uow:
        uow.session.add(
            CredentialVersion(
                account_id=account_id,
                version=version.version,
                created_time=version.created_time,
                written_by="token:helper",
                written_by_role="admin",
                reason="test",
                is_rotation="password" in replaced,
            )
        )
        account = await uow.session.get(Account, account_id)
        assert account is not None
        account.credential_version = version.version
        account.credential_created_time = version.created_time
        if "backup_codes" in replaced:
            account.backup_codes_version = version.version
        if "totp_secret" in replaced:
            account.totp_secret_version = version.version
        answers = await uow.publish(
            CredentialWritten(
                account_id,
                version.version,
                version.created_time,
                "password" in replaced,
                replaced=frozenset(replaced),
            )
        )
    return next((a for a in answers if isinstance(a, ObligationSatisfied)), None)


async def depart(c: Client, admin: dict[str, str], gestor_id: str) -> Any:
    resp = await c.post(
        f"/v1/gestores/{gestor_id}/departure", json={"reason": "renuncia"}, headers=admin
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


async def owed(c: Client, admin: dict[str, str], account_id: str) -> list[Any]:
    resp = await c.get(f"/v1/rotations?account_id={account_id}", headers=admin)
    assert resp.status_code == 200, resp.text
    return list(resp.json())


async def put(c: Client, headers: dict[str, str], account_id: str, **secret: Any) -> int:
    """A merge (PATCH): what it does not name is carried over, so it replaces only that."""
    resp = await c.patch(
        f"/v1/accounts/{account_id}/credential",
        json={"username": "oficial", **secret},
        headers=headers,
    )
    assert resp.status_code == 200, resp.text
    return int(resp.json()["version"])


async def test_who_saw_a_code_and_leaves_owes_new_codes(make_client: AppFactory) -> None:
    c, _, admin = await frozen(make_client)
    rt = runtime_of(c)
    seen, (gestor, headers, _), granted = await holder(c, admin)
    assert (await reveal(c, granted["checkout_id"], headers)).json()["code"] == CODES[0]
    # A control: a checkout without a reveal owes the password alone.
    unseen, (other, _, _), _ = await holder(c, admin)

    case = await depart(c, admin, gestor)
    assert [(o["account_id"], o["requires"], o["why"]) for o in case["obligations"]] == [
        (seen, ["backup_codes", "password"], [KNEW, SAW])
    ]
    control = await depart(c, admin, other)
    assert [(o["requires"], o["why"]) for o in control["obligations"]] == [(["password"], [KNEW])]
    [obligation] = await owed(c, admin, seen)
    assert obligation["requires"] == ["backup_codes", "password"]
    assert obligation["origins"] == [
        {
            "type": "gestor",
            "id": gestor,
            "reason": "gestor_departure",
            "requires": ["backup_codes", "password"],
        }
    ]
    assert (await owed(c, admin, unseen))[0]["origins"] == [
        {"type": "gestor", "id": other, "reason": "gestor_departure"}
    ]

    # A new password alone leaves the codes they saw valid: still owed.
    assert await put(c, admin, seen, password="Solo-Clave-2") == 2
    [still] = await owed(c, admin, seen)
    assert still["status"] in ("open", "overdue") and still["satisfied_at"] is None
    assert await put(c, admin, unseen, password="Solo-Clave-2") == 2
    assert (await owed(c, admin, unseen))[0]["status"] == "satisfied"
    # A version with a new set of codes (and a new password) satisfies it.
    secret = {"username": "oficial", "password": "Clave-3", "backup_codes": NEW_CODES}
    satisfied = await wired_write(rt, seen, secret, {"password", "backup_codes"})
    assert satisfied is not None and satisfied.version == 3
    [done] = await owed(c, admin, seen)
    assert done["status"] == "satisfied" and done["satisfied_by_version"] == 3


async def test_a_version_with_new_codes_through_the_api_satisfies(make_client: AppFactory) -> None:
    c, _, admin = await frozen(make_client)
    seen, (gestor, headers, _), granted = await holder(c, admin)
    assert (await reveal(c, granted["checkout_id"], headers)).status_code == 200
    await depart(c, admin, gestor)
    await put(c, admin, seen, password="Solo-Clave-2")
    assert (await owed(c, admin, seen))[0]["status"] != "satisfied"
    await put(c, admin, seen, password="Clave-3", backup_codes=NEW_CODES)
    assert (await owed(c, admin, seen))[0]["status"] == "satisfied"


async def test_an_unassigned_gestor_who_saw_a_code_owes_new_codes(
    make_client: AppFactory,
) -> None:
    c, _, admin = await frozen(make_client)
    rt = runtime_of(c)
    seen, (gestor, headers, _), granted = await holder(c, admin)
    assert (await reveal(c, granted["checkout_id"], headers)).status_code == 200
    gone = await c.delete(f"/v1/accounts/{seen}/gestores/{gestor}", headers=admin)
    assert gone.status_code in (200, 204), gone.text
    [obligation] = await owed(c, admin, seen)
    assert obligation["requires"] == ["backup_codes", "password"]
    assert obligation["origins"][0]["requires"] == ["backup_codes", "password"]
    # The password changes after their access ended, and the codes are carried over
    # (as a merging write does: backup_codes_version stays at 1).
    assert await put(c, admin, seen, password="Solo-Clave-2") == 2
    async with rt.unit_of_work(admin_caller()) as uow:
        account = await uow.session.get(Account, seen)
        assert account is not None
        account.backup_codes_version = 1
    case = await depart(c, admin, gestor)
    [entry] = case["accounts"]
    assert entry["rotated_since_access_ended"] is True
    # They no longer know the password, but the codes they saw still work.
    assert [(o["id"], o["requires"], o["why"]) for o in case["obligations"]] == [
        (obligation["id"], ["backup_codes", "password"], [SAW])
    ]
    [merged] = await owed(c, admin, seen)
    assert [o["reason"] for o in merged["origins"]] == ["gestor_unassigned", "gestor_departure"]
    assert merged["origins"][1]["requires"] == ["backup_codes"]


async def test_who_wrote_the_platform_seed_and_leaves_owes_a_new_seed(
    make_client: AppFactory,
) -> None:
    # The real clock: the departures must come after the writer's version in Vault's time.
    c = await make_client()
    admin = await bearer(c, "admin", "seed-admin")
    rt = runtime_of(c)
    clock = rt.clock
    account_id = await account_with_credential(c, admin, totp_secret=PLATFORM_SEED)
    writer, writer_headers, writer_seed = await ready_gestor(c, admin, account_id, clock.now())
    granted = await check_out_now(c, account_id, writer_headers, writer_seed)
    assert await put(c, writer_headers, account_id, password="Del-Gestor-2", totp_secret=NEW_SEED)
    back = await c.post(
        f"/v1/checkouts/{granted['checkout_id']}/checkin", json={}, headers=writer_headers
    )
    assert back.status_code == 200, back.text
    # Another gestor is handed the platform's current code, never its seed.
    reader, reader_headers, reader_seed = await ready_gestor(c, admin, account_id, clock.now())
    out = await check_out_now(c, account_id, reader_headers, reader_seed)
    now = clock.now()
    platform = {pyotp.TOTP(NEW_SEED).at(now - timedelta(seconds=s)) for s in (0, 30)}
    assert out["platform_totp"]["code"] in platform
    assert NEW_SEED not in str(out)
    case = await depart(c, admin, reader)
    assert [(o["requires"], o["why"]) for o in case["obligations"]] == [(["password"], [KNEW])]

    case = await depart(c, admin, writer)
    assert [(o["requires"], o["why"]) for o in case["obligations"]] == [
        (["password", "totp_secret"], [KNEW, WROTE])
    ]
    assert await put(c, admin, account_id, password="Solo-Clave-3") == 3
    assert (await owed(c, admin, account_id))[0]["satisfied_at"] is None
    secret = {"username": "oficial", "password": "Clave-4", "totp_secret": PLATFORM_SEED}
    satisfied = await wired_write(rt, account_id, secret, {"password", "totp_secret"})
    assert satisfied is not None and satisfied.version == 4


def test_case_files_stored_before_requirements_still_read() -> None:
    stored = {
        "gestor_id": "g",
        "gestor_name": "G",
        "effective_at": "2026-01-01T00:00:00Z",
        "recorded_at": "2026-01-01T00:00:00Z",
        "recorded_by": "token:a",
        "reason": "baja",
        "tokens_revoked": 0,
        "assignments_ended": 1,
        "checkouts_closed": [],
        "accounts": [],
        "obligations": [
            {"id": "o", "account_id": "a", "reason": "gestor_departure", "due_at": "x"}
        ],
        "seed_destroyed": True,
        "seed_destroyed_at": None,
    }
    case = msgspec.convert(stored, CaseFile)
    assert case.obligations[0].requires == ["password"]
    assert case.obligations[0].why == []
