"""Nothing is lost (issue 12): a rotation keeps 2FA, backup codes and recovery channels.

A merge (PATCH, the check-in's new_credential) carries over every field it does
not name, inside Vault (KV v2 patch), so the service still never reads a
credential; a full replacement (PUT) that would drop one is a 422 naming it;
only a removal with a reason drops a field, and the audit trail names the field,
never its value. Vault and the databases are real.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy.exc import OperationalError

from service.audit.reconcile import scan_audit_log
from service.clock import SystemClock
from service.credentials.recovery import recover_account
from service.devstack.bootstrap import AppRoleCredentials, approle_login
from service.domain.totp import code_for_step, time_step
from service.errors import VaultConflict
from service.principal import Caller
from service.uow import UnitOfWork
from service.vault.client import SecretVersion
from tests.bao_server import DevServer
from tests.support.apps import Client, runtime_of
from tests.support.factories import (
    accept_responsiva,
    assign,
    create_account,
    create_gestor,
    enrol,
    gestor_token,
)
from tests.support.reads import events, head_seq

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
CODES = ["CANARY-BC-1111", "CANARY-BC-2222"]
EMAIL = "canario.recupera@example.gob.mx"
PHONE = "+52 55 8765 4321"
NOTES = "CANARY-NOTE: la cuenta se verificó con el teléfono del área"
PROTECTED = ["backup_codes", "recovery_email", "recovery_phone", "totp_secret"]


@dataclass
class ApiGestor:
    """A ready gestor and the TOTP steps it has spent (a step is good once)."""

    id: str
    headers: dict[str, str]
    seed: str
    step: int = 0

    def next_code(self, now: datetime) -> str:
        """A code from a step within the window that this gestor has not used yet."""
        current = time_step(now)
        self.step = max(self.step + 1, current - 1)
        assert self.step <= current + 1, "out of unused steps in the window"
        return code_for_step(self.seed, self.step)


async def api_account(client: Client, admin: dict[str, str]) -> str:
    handle = f"cuenta.{uuid.uuid4().hex[:10]}"
    return await create_account(
        client, admin, platform="facebook", handle=handle, url=f"https://facebook.com/{handle}"
    )


async def api_gestor(client: Client, admin: dict[str, str], accounts: list[str]) -> ApiGestor:
    """A gestor with a token, confirmed TOTP and accepted responsiva, assigned to accounts."""
    gestor_id = await create_gestor(client, admin)
    headers = await gestor_token(client, admin, gestor_id)
    for account_id in accounts:
        await assign(client, admin, account_id, gestor_id)
    await accept_responsiva(client, headers)
    seed = await enrol(client, headers)
    # enrol confirmed with the previous step's code: that step is spent.
    return ApiGestor(gestor_id, headers, seed, time_step(datetime.now(UTC)) - 1)


def full(password: str) -> dict[str, Any]:
    """A credential with every field: what must survive a rotation."""
    return {
        "username": "oficial",
        "password": password,
        "totp_secret": SEED,
        "backup_codes": CODES,
        "recovery_email": EMAIL,
        "recovery_phone": PHONE,
        "notes": NOTES,
    }


def rotation(password: str, **extra: Any) -> dict[str, Any]:
    """What a rotation form sends."""
    return {"username": "oficial", "password": password, **extra}


async def account_with_everything(client: Client, admin: dict[str, str]) -> str:
    account_id = await api_account(client, admin)
    written = await client.put(path(account_id), json=full("Primera-Clave-1"), headers=admin)
    assert written.status_code == 200 and written.json()["version"] == 1, written.text
    return account_id


def path(account_id: str) -> str:
    return f"/v1/accounts/{account_id}/credential"


async def in_vault(bao: DevServer, account_id: str) -> tuple[dict[str, Any], int] | None:
    """The current secret and its version, read with the root token (the service cannot)."""
    async with httpx.AsyncClient(base_url=f"{bao.addr}/v1/") as vault:
        resp = await vault.get(
            f"custodia-kv/data/accounts/{account_id}", headers={"X-Vault-Token": bao.root_token}
        )
    if resp.status_code == 404:
        return None
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    return data["data"], int(data["metadata"]["version"])


async def check_out(client: Client, account_id: str, gestor: ApiGestor) -> dict[str, Any]:
    out = await client.post(
        f"/v1/accounts/{account_id}/checkouts",
        json={"totp_code": gestor.next_code(SystemClock().now()), "reason": "rotar", "minutes": 5},
        headers=gestor.headers,
    )
    assert out.status_code == 201, out.text
    body: dict[str, Any] = out.json()
    return body


def assert_everything_kept(granted: dict[str, Any], password: str) -> None:
    """A checkout releases the new password with the 2FA seed and recovery data intact."""
    credential = granted["credential"]
    assert credential["password"] == password
    # Codes leave one at a time now (POST /v1/checkouts/{id}/backup-code): all still there.
    assert credential["backup_codes_left"] == len(CODES)
    assert (credential["recovery_email"], credential["recovery_phone"]) == (EMAIL, PHONE)
    platform = granted["platform_totp"]
    assert platform is not None
    assert platform["code"] in {
        pyotp.TOTP(SEED).at(datetime.now(UTC), counter_offset=offset) for offset in (-1, 0)
    }


async def assert_facts_kept(client: Client, admin: dict[str, str], account_id: str) -> None:
    account = (await client.get(f"/v1/accounts/{account_id}", headers=admin)).json()
    assert account["two_factor_method"] == "totp"
    assert account["recovery_email_masked"] == "c••••@example.gob.mx"
    assert account["recovery_phone_masked"] == "••••••4321"


def no_secret_in(text: str) -> None:
    for secret in (SEED, *CODES, EMAIL, "8765", NOTES, "Clave"):
        assert secret not in text, secret


async def test_checkin_rotation_keeps_2fa_backup_codes_and_recovery(
    client: Client, admin: dict[str, str]
) -> None:
    """The reproduction: a check-in with only username and password kept nothing else."""
    account_id = await account_with_everything(client, admin)
    gestor = await api_gestor(client, admin, [account_id])
    first = await check_out(client, account_id, gestor)
    back = await client.post(
        f"/v1/checkouts/{first['checkout_id']}/checkin",
        json={"new_credential": rotation("Rotada-En-Checkin-2")},
        headers=gestor.headers,
    )
    assert back.status_code == 200, back.text
    assert back.json()["new_version"] == 2
    assert_everything_kept(await check_out(client, account_id, gestor), "Rotada-En-Checkin-2")
    await assert_facts_kept(client, admin, account_id)


async def test_patch_rotation_keeps_everything_and_never_reads(
    client: Client, admin: dict[str, str], bao: DevServer
) -> None:
    """PATCH by the gestor holding a checkout (the check-in's path), then by an admin."""
    account_id = await account_with_everything(client, admin)
    gestor = await api_gestor(client, admin, [account_id])
    granted = await check_out(client, account_id, gestor)
    before = await head_seq(client)
    merged = await client.patch(
        path(account_id), json=rotation("Rotada-Por-Gestor-2"), headers=gestor.headers
    )
    assert merged.status_code == 200 and merged.json()["version"] == 2, merged.text
    by_admin = await client.patch(path(account_id), json=rotation("Rotada-2b-3"), headers=admin)
    assert by_admin.status_code == 200 and by_admin.json()["version"] == 3, by_admin.text
    # OpenBao's audit log: every read of this credential is a checkout child token's
    # (scanned before this test reads it with the root token below).
    reads = scan_audit_log(bao.audit_log_path.read_text(encoding="utf-8").splitlines()).reads
    mine = [r for r in reads if r.account_id == account_id]
    assert [r.checkout_id for r in mine] == [granted["checkout_id"]]
    stored = await in_vault(bao, account_id)
    assert stored is not None and stored[1] == 3
    assert stored[0] == full("Rotada-2b-3")
    await assert_facts_kept(client, admin, account_id)
    written = await events(client, after=before, action="credential.written")
    details = [json.loads(e.details) for e in written]
    assert [d["fields"] for d in details] == [sorted(full("x"))] * 2
    assert [d["carried_over"] for d in details] == [sorted([*PROTECTED, "notes"])] * 2
    assert [d["is_rotation"] for d in details] == [True, True]
    assert details[0]["checkout_id"] == granted["checkout_id"]
    no_secret_in("".join(e.details for e in await events(client, after=before)))


async def test_put_that_would_drop_2fa_or_recovery_is_refused_and_writes_nothing(
    client: Client, admin: dict[str, str], auditor: dict[str, str], bao: DevServer
) -> None:
    account_id = await account_with_everything(client, admin)
    before = await head_seq(client)
    refused = await client.put(path(account_id), json=rotation("Nueva-Clave-2"), headers=admin)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["fields"] == sorted([*PROTECTED, "notes"])
    assert all(f in problem["detail"] for f in PROTECTED)
    # Naming some is not enough: the rest are still named as dropped.
    partly = await client.put(
        path(account_id),
        json=rotation(
            "Nueva-Clave-2",
            notes=NOTES,
            remove=[{"field": "backup_codes", "reason": "se generan nuevos"}],
        ),
        headers=admin,
    )
    assert partly.status_code == 422 and partly.json()["fields"] == [
        "recovery_email",
        "recovery_phone",
        "totp_secret",
    ]
    no_secret_in(refused.text + partly.text)
    assert await events(client, after=before, account_id=account_id) == []
    stored = await in_vault(bao, account_id)
    assert stored is not None and stored[1] == 1 and stored[0] == full("Primera-Clave-1")
    versions = await client.get(f"{path(account_id)}/versions", headers=auditor)
    assert [v["version"] for v in versions.json()] == [1]
    await assert_facts_kept(client, admin, account_id)
    # Sending every field again is a replacement that drops nothing.
    again = await client.put(path(account_id), json=full("Nueva-Clave-2"), headers=admin)
    assert again.status_code == 200 and again.json()["version"] == 2, again.text


async def test_explicit_removal_is_audited_with_names_and_reasons_never_values(
    client: Client, admin: dict[str, str], bao: DevServer
) -> None:
    account_id = await account_with_everything(client, admin)
    before = await head_seq(client)
    removed = [
        {"field": "totp_secret", "reason": "la plataforma cambió a llave física"},
        {"field": "recovery_email", "reason": "el buzón se dio de baja"},
    ]
    resp = await client.patch(
        path(account_id), json=rotation("Sin-2FA-2", remove=removed), headers=admin
    )
    assert resp.status_code == 200, resp.text
    stored = await in_vault(bao, account_id)
    assert stored is not None
    assert stored[0] == {
        "username": "oficial",
        "password": "Sin-2FA-2",
        "backup_codes": CODES,
        "recovery_phone": PHONE,
        "notes": NOTES,
    }
    account = (await client.get(f"/v1/accounts/{account_id}", headers=admin)).json()
    assert account["two_factor_method"] is None and account["recovery_email_masked"] is None
    assert account["recovery_phone_masked"] == "••••••4321"
    intent, written = await events(client, after=before, account_id=account_id)
    assert (intent.action, written.action) == ("credential.write_started", "credential.written")
    for event in (intent, written):
        details = json.loads(event.details)
        assert details["removed"] == removed
        assert details["fields"] == [
            "backup_codes",
            "notes",
            "password",
            "recovery_phone",
            "username",
        ]
        no_secret_in(event.details)
    # Removing what the version no longer holds is a mistake, not a silent no-op.
    again = await client.patch(
        path(account_id), json=rotation("Otra-3", remove=removed[:1]), headers=admin
    )
    assert again.status_code == 422 and again.json()["fields"] == ["totp_secret"]
    # A removal says why, and does not also send the field.
    for bad in (
        [{"field": "notes", "reason": "  "}],
        [{"field": "notes", "reason": "x"}, {"field": "notes", "reason": "y"}],
    ):
        resp = await client.patch(
            path(account_id), json=rotation("Otra-3", remove=bad), headers=admin
        )
        assert resp.status_code == 422 and resp.json()["field"] == "remove", resp.text
    sent_and_removed = rotation("Otra-3", notes="n", remove=[{"field": "notes", "reason": "x"}])
    resp = await client.patch(path(account_id), json=sent_and_removed, headers=admin)
    assert resp.status_code == 422
    unknown = rotation("Otra-3", remove=[{"field": "password", "reason": "x"}])
    assert (await client.patch(path(account_id), json=unknown, headers=admin)).status_code == 400


async def test_merge_keeps_the_existing_checks(
    client: Client, admin: dict[str, str], auditor: dict[str, str]
) -> None:
    """Same password refused, a first version created, check-and-set on the version seen."""
    account_id = await api_account(client, admin)
    first = await client.patch(path(account_id), json=full("Alta-1"), headers=admin)
    assert first.status_code == 200 and first.json()["version"] == 1, first.text
    same = await client.patch(path(account_id), json=rotation("Alta-1"), headers=admin)
    assert same.status_code == 422 and "Alta-1" not in same.text
    assert (await client.patch(path(account_id), json=rotation("Dos-2"), headers=admin)).is_success
    vault = runtime_of(client).vault
    with pytest.raises(VaultConflict):
        await vault.patch_credential(account_id, {"password": "Tarde-3"}, cas=1)
    rows = (await client.get(f"{path(account_id)}/versions", headers=auditor)).json()
    assert [(v["version"], v["is_rotation"]) for v in rows] == [(1, False), (2, True)]
    roles = await client.patch(path(account_id), json=rotation("Tres-3"), headers=auditor)
    assert roles.status_code == 403


class DropAfterPatch:
    """The SQL transaction right after Vault merged a version fails at commit."""

    def __init__(self, client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
        rt = runtime_of(client)
        self.armed = False
        self._patch, self._unit_of_work = rt.vault.patch_credential, rt.unit_of_work
        monkeypatch.setattr(rt.vault, "patch_credential", self.patch_credential)
        monkeypatch.setattr(rt, "unit_of_work", self.unit_of_work)

    async def patch_credential(self, *args: Any, **kwargs: Any) -> SecretVersion:
        version = await self._patch(*args, **kwargs)
        self.armed = True
        return version

    @asynccontextmanager
    async def unit_of_work(self, caller: Caller) -> AsyncIterator[UnitOfWork]:
        fail, self.armed = self.armed, False
        async with self._unit_of_work(caller) as uow:
            yield uow
            if fail:
                await uow.flush()
                raise OperationalError("COMMIT", None, ConnectionResetError("connection reset"))


async def test_a_merged_version_sql_lost_is_recovered_with_its_fields(
    client: Client, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = await account_with_everything(client, admin)
    DropAfterPatch(client, monkeypatch)
    lost = await client.patch(path(account_id), json=rotation("Perdida-2"), headers=admin)
    assert lost.status_code == 503, lost.text
    monkeypatch.undo()
    [item] = await recover_account(runtime_of(client), account_id)
    assert item.version == 2 and item.is_rotation
    await assert_facts_kept(client, admin, account_id)
    # The intent's field list is the merged version's: the next PUT still guards 2FA.
    refused = await client.put(path(account_id), json=rotation("Tres-3"), headers=admin)
    assert refused.status_code == 422 and refused.json()["fields"] == sorted([*PROTECTED, "notes"])


async def test_a_version_written_outside_the_service_is_guarded_by_the_facts(
    client: Client, admin: dict[str, str], bao: DevServer
) -> None:
    """No event names its fields: the account's facts (2FA, masked channels) still count."""
    account_id = await account_with_everything(client, admin)
    outside = {**full("Fuera-2"), "backup_codes": ["CANARY-BC-3333"]}
    await runtime_of(client).vault.write_credential(account_id, outside, cas=1)
    refused = await client.put(path(account_id), json=rotation("Tres-3"), headers=admin)
    assert refused.status_code == 422
    assert refused.json()["fields"] == ["recovery_email", "recovery_phone", "totp_secret"]
    before = await head_seq(client)
    merged = await client.patch(path(account_id), json=rotation("Tres-3"), headers=admin)
    assert merged.status_code == 200 and merged.json()["version"] == 3, merged.text
    stored = await in_vault(bao, account_id)
    assert stored is not None and stored[0] == {**outside, "password": "Tres-3"}
    [written] = await events(client, after=before, action="credential.written")
    assert json.loads(written.details)["fields_incomplete"] is True


def test_service_policy_may_patch_but_never_read_a_credential(
    bao: DevServer, approle: AppRoleCredentials
) -> None:
    """KV v2 patch merges inside Vault: the service token still cannot read a credential."""
    token = approle_login(bao.addr, approle)
    with httpx.Client(base_url=f"{bao.addr}/v1/", headers={"X-Vault-Token": token}) as service:
        url = "custodia-kv/data/accounts/policy-patch"
        created = service.post(url, json={"data": {"password": "a", "totp_secret": SEED}})
        assert created.status_code == 200, created.text
        merge = {"Content-Type": "application/merge-patch+json"}
        body = {"options": {"cas": 1}, "data": {"password": "b"}}
        patched = service.patch(url, json=body, headers=merge)
        assert patched.status_code == 200 and patched.json()["data"]["version"] == 2
        stale = service.patch(url, json=body, headers=merge)
        assert stale.status_code == 400 and "check-and-set" in stale.text
        assert service.get(url).status_code == 403
        assert service.get(url, params={"version": 1}).status_code == 403
    with httpx.Client(base_url=f"{bao.addr}/v1/") as root:
        data = root.get(url, headers={"X-Vault-Token": bao.root_token}).json()["data"]["data"]
    assert data == {"password": "b", "totp_secret": SEED}
