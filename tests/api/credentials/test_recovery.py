"""Write intents and recovery: a version Vault accepted is never left unrecorded or unaudited.

Failures are injected through the app's own runtime object (its unit of work and
its Vault facade), never by patching import paths; Vault and the databases are real.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from service.clock import SystemClock, rfc3339
from service.credentials.recovery import GRACE, recover_account, recovery_round
from service.credentials.repository import CredentialRepository
from service.errors import VaultUnavailable
from service.principal import Caller
from service.runtime import Runtime
from service.uow import UnitOfWork
from service.vault.client import SecretVersion
from tests.support.apps import AppFactory, Client, frozen, runtime_of
from tests.support.factories import (
    account_with_credential,
    check_out,
    code_at,
    create_account,
    open_obligation,
    put_credential,
    ready_gestor,
)
from tests.support.reads import events, head_seq

PATH = "/v1/accounts/{}/credential"


def body(password: str) -> dict[str, Any]:
    return {"username": "oficial", "password": password}


class DatabaseDrops:
    """The next SQL transaction after Vault accepts a version (or simply the next one,
    with ``after_vault_write=False``) fails at commit, as a dropped connection does."""

    def __init__(self, rt: Runtime, monkeypatch: pytest.MonkeyPatch, *, after_vault_write: bool):
        self.armed = not after_vault_write
        self.dropped = 0
        self._unit_of_work = rt.unit_of_work
        self._write = rt.vault.write_credential
        monkeypatch.setattr(rt, "unit_of_work", self.unit_of_work)
        if after_vault_write:
            monkeypatch.setattr(rt.vault, "write_credential", self.write_credential)

    async def write_credential(self, *args: Any, **kwargs: Any) -> SecretVersion:
        version = await self._write(*args, **kwargs)
        self.armed = True
        return version

    @asynccontextmanager
    async def unit_of_work(self, caller: Caller) -> AsyncIterator[UnitOfWork]:
        fail, self.armed = self.armed, False
        async with self._unit_of_work(caller) as uow:
            yield uow
            if fail:
                await uow.flush()  # the statements reached the database...
                self.dropped += 1
                # ...and the connection died before COMMIT: everything rolls back.
                raise OperationalError("COMMIT", None, ConnectionResetError("connection reset"))


async def lose_the_sql_of_a_write(
    client: Client,
    admin: dict[str, str],
    account: str,
    password: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A PUT Vault accepts and whose SQL transaction is then lost: 503, the version unrecorded."""
    with monkeypatch.context() as patched:
        DatabaseDrops(runtime_of(client), patched, after_vault_write=True)
        await put_credential(client, admin, account, password, expect=503)


async def versions(client: Client, headers: dict[str, str], account_id: str) -> list[Any]:
    resp = await client.get(f"{PATH.format(account_id)}/versions", headers=headers)
    assert resp.status_code == 200, resp.text
    return list(resp.json())


async def verify(client: Client, auditor: dict[str, str]) -> None:
    resp = await client.get("/v1/audit/verify", headers=auditor)
    assert resp.status_code == 200 and resp.json()["valid"] is True, resp.text


async def test_sql_failure_after_vault_write_is_recorded_from_the_intent(
    client: Client,
    admin: dict[str, str],
    auditor: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rt = runtime_of(client)
    account = await account_with_credential(client, admin, "Vieja-Clave-1")
    gestor_id, gestor_headers, seed = await ready_gestor(client, admin, account)
    obligation = await open_obligation(client, admin, account)
    checkout_id = await check_out(
        client,
        account,
        gestor_headers,
        code_at(seed, SystemClock().now()),
        reason="rotar",
        minutes=10,
    )
    before = await head_seq(client)
    drop = DatabaseDrops(rt, monkeypatch, after_vault_write=True)
    resp = await client.put(
        PATH.format(account), json=body("Nueva-Clave-2"), headers=gestor_headers
    )
    assert drop.dropped == 1
    assert resp.status_code == 503, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["title"] == "Credential version not recorded" and problem["version"] == 2
    assert "Nueva-Clave" not in resp.text and "vault:v" not in resp.text
    # The intent was committed before Vault was written; nothing else was.
    written = await events(client, after=before, account_id=account)
    assert [e.action for e in written] == ["credential.write_started"]
    [intent] = written
    assert intent.actor == f"gestor:{gestor_id}" and intent.reason == "credential written"
    details = json.loads(intent.details)
    assert details == {"version": 2, "checkout_id": checkout_id, "fields": ["password", "username"]}
    assert "Nueva-Clave" not in intent.details and "vault:" not in intent.details
    assert [v["recorded"] for v in await versions(client, auditor, account)] == [True, False]

    recovered = await recover_account(rt, account)
    assert [(r.version, r.intent_seq, r.written_by, r.is_rotation) for r in recovered] == [
        (2, intent.seq, f"gestor:{gestor_id}", True)
    ]
    assert await recover_account(rt, account) == []  # idempotent
    rows = await versions(client, auditor, account)
    assert [(v["version"], v["recorded"]) for v in rows] == [(1, True), (2, True)]
    assert rows[1]["written_by"] == f"gestor:{gestor_id}" and rows[1]["written_by_role"] == "gestor"
    assert rows[1]["checkout_id"] == checkout_id and rows[1]["is_rotation"] is True
    assert rows[1]["reason"] == "recovered from Vault: credential written"
    after = await events(client, after=before, account_id=account)
    assert [e.action for e in after] == [
        "credential.write_started",
        "credential.version_recovered",
        "rotation.satisfied",
    ]
    recovered_details = json.loads(after[1].details)
    assert recovered_details["version"] == 2 and recovered_details["intent_seq"] == intent.seq
    assert recovered_details["evidence"] == "rotation"
    # Fingerprints of versions 1 and 2 differ: the obligation is satisfied, as a live write would.
    ob = (await client.get(f"/v1/rotations/{obligation['id']}", headers=admin)).json()
    assert ob["status"] == "satisfied" and ob["satisfied_by_version"] == 2
    account_row = (await client.get(f"/v1/accounts/{account}", headers=auditor)).json()
    assert account_row["credential_version"] == 2
    await verify(client, auditor)


async def test_intent_commit_failure_writes_nothing_to_vault(
    client: Client, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = runtime_of(client)
    account = await create_account(client, admin)
    await put_credential(client, admin, account, "Uno-1")
    before = await head_seq(client)
    drop = DatabaseDrops(rt, monkeypatch, after_vault_write=False)
    resp = await client.put(PATH.format(account), json=body("Dos-2"), headers=admin)
    assert drop.dropped == 1
    assert resp.status_code == 503 and "Dos-2" not in resp.text, resp.text
    assert set(await rt.vault.credential_versions(account)) == {1}  # fail closed
    assert await events(client, after=before, account_id=account) == []


async def test_next_write_recovers_first_and_the_chain_continues(
    client: Client,
    admin: dict[str, str],
    auditor: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account = await account_with_credential(client, admin, "Uno-1")
    before = await head_seq(client)
    await lose_the_sql_of_a_write(client, admin, account, "Dos-2", monkeypatch)
    third = await put_credential(client, admin, account, "Tres-3", expect=200)
    assert third["version"] == 3
    rows = await versions(client, auditor, account)
    assert [(v["version"], v["recorded"], v["written_by"]) for v in rows][1:] == [
        (2, True, rows[0]["written_by"]),
        (3, True, rows[0]["written_by"]),
    ]
    actions = [e.action for e in await events(client, after=before, account_id=account)]
    assert actions == [
        "credential.write_started",
        "credential.version_recovered",
        "credential.write_started",
        "credential.written",
    ]
    await verify(client, auditor)


async def test_without_fingerprint_evidence_a_recovered_version_is_no_rotation(
    client: Client, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = runtime_of(client)
    account = await account_with_credential(client, admin, "Uno-1")
    made = await open_obligation(client, admin, account)

    async def fingerprint_lost(*args: Any, **kwargs: Any) -> None:
        raise VaultUnavailable("Vault is unreachable")

    with monkeypatch.context() as patched:
        DatabaseDrops(rt, patched, after_vault_write=True)
        patched.setattr(rt.vault, "write_fingerprint", fingerprint_lost)
        await put_credential(client, admin, account, "Dos-2", expect=503)
    [item] = await recover_account(rt, account)
    assert item.version == 2 and item.intent_seq is not None and item.is_rotation is False
    [event] = await events(client, account_id=account, action="credential.version_recovered")
    assert json.loads(event.details)["evidence"] == "fingerprint_missing"
    ob = (await client.get(f"/v1/rotations/{made['id']}", headers=admin)).json()
    assert ob["status"] == "open"


async def test_recovery_round_takes_open_intents_after_the_grace(
    make_client: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, clock, admin = await frozen(make_client, datetime.now(UTC), "recovery-round")
    rt = runtime_of(client)
    healthy = await account_with_credential(client, admin, "Sana-1")
    lost = await account_with_credential(client, admin, "Uno-1")
    await lose_the_sql_of_a_write(client, admin, lost, "Dos-2", monkeypatch)

    async def open_intents() -> list[str]:
        now = clock.now()
        async with rt.reader() as reader:
            return await CredentialRepository(reader).accounts_with_open_intents(
                rfc3339(now - timedelta(days=1)), rfc3339(now - GRACE)
            )

    # A write may still be between Vault and its commit: the round leaves it alone for a while.
    assert await recovery_round(rt) > 0
    assert await events(client, account_id=lost, action="credential.version_recovered") == []
    clock.advance(GRACE + timedelta(seconds=1))
    ids = await open_intents()
    assert lost in ids and healthy not in ids  # only unsettled intents are scanned
    await recovery_round(rt)
    recovered = await events(client, account_id=lost, action="credential.version_recovered")
    assert [json.loads(e.details)["version"] for e in recovered] == [2]
    assert lost not in await open_intents()
    await recovery_round(rt)  # nothing more to do
    assert len(await events(client, account_id=lost, action="credential.version_recovered")) == 1


async def test_replicas_recovering_at_once_record_the_version_once(
    make_client: AppFactory, client: Client, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = runtime_of(client)
    account = await account_with_credential(client, admin, "Uno-1")
    await lose_the_sql_of_a_write(client, admin, account, "Dos-2", monkeypatch)
    replicas = [rt, runtime_of(await make_client())]
    results = await asyncio.gather(*(recover_account(r, account) for r in replicas * 2))
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    assert len(await events(client, account_id=account, action="credential.version_recovered")) == 1
    rows = await versions(client, admin, account)
    assert rows[1]["recorded"] is True and rows[1]["written_by"] == rows[0]["written_by"]


async def test_writer_replaces_a_record_recovered_while_it_was_in_flight(
    make_client: AppFactory,
    client: Client,
    admin: dict[str, str],
    auditor: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another replica recovers the version between this writer's Vault write and its commit."""
    rt = runtime_of(client)
    replica = runtime_of(await make_client())
    account = await account_with_credential(client, admin, "Uno-1")
    write = rt.vault.write_credential
    seen: list[int] = []

    async def write_then_replica_recovers(*args: Any, **kwargs: Any) -> SecretVersion:
        version = await write(*args, **kwargs)
        seen.extend(r.version for r in await recover_account(replica, account))
        return version

    monkeypatch.setattr(rt.vault, "write_credential", write_then_replica_recovers)
    done = await put_credential(client, admin, account, "Dos-2", expect=200)
    assert done["version"] == 2 and seen == [2]
    rows = await versions(client, auditor, account)
    assert rows[1]["reason"] == "credential written" and rows[1]["is_rotation"] is True
    written = (await events(client, account_id=account, action="credential.written"))[-1]
    assert json.loads(written.details)["replaces_recovered"] is True
    await verify(client, auditor)


async def test_a_vault_error_after_the_intent_is_recorded_against_it(
    client: Client, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The intent stays, and the failure names it: recovery will not credit it over another."""
    rt = runtime_of(client)
    account = await account_with_credential(client, admin, "Uno-1")

    async def vault_down(*args: Any, **kwargs: Any) -> SecretVersion:
        raise VaultUnavailable("Vault is unreachable")

    before = await head_seq(client)
    with monkeypatch.context() as patched:
        patched.setattr(rt.vault, "write_credential", vault_down)
        resp = await client.put(PATH.format(account), json=body("Dos-2"), headers=admin)
    assert resp.status_code == 503 and resp.json()["title"] == "Vault unavailable", resp.text
    intent, failed = await events(client, after=before, account_id=account)
    assert (intent.action, failed.action, failed.outcome) == (
        "credential.write_started",
        "credential.write_failed",
        "error",
    )
    assert json.loads(failed.details) == {"intent_seq": intent.seq}
    assert await recover_account(rt, account) == []


async def test_a_recovered_version_written_after_access_ended_satisfies_no_rotation(
    client: Client, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a live write: the leaver's password, recovered later, leaves the rotation owed."""
    rt = runtime_of(client)
    account = await account_with_credential(client, admin, "Vieja-Clave-1")
    gestor_id, gestor_headers, seed = await ready_gestor(client, admin, account)
    await check_out(
        client,
        account,
        gestor_headers,
        code_at(seed, SystemClock().now()),
        reason="rotar",
        minutes=10,
    )
    write = rt.vault.write_credential

    async def unassigned_first(*args: Any, **kwargs: Any) -> SecretVersion:
        # The gestor passed the checks; the admin removes them before Vault takes it.
        path = f"/v1/accounts/{account}/gestores/{gestor_id}"
        assert (await client.delete(path, headers=admin)).status_code in (200, 204)
        return await write(*args, **kwargs)

    monkeypatch.setattr(rt.vault, "write_credential", unassigned_first)
    drop = DatabaseDrops(rt, monkeypatch, after_vault_write=True)
    drop._write = unassigned_first
    resp = await client.put(
        PATH.format(account), json=body("Clave-Del-Que-Se-Va"), headers=gestor_headers
    )
    assert resp.status_code == 503, resp.text
    monkeypatch.undo()

    [item] = await recover_account(rt, account)
    assert item.version == 2 and not item.is_rotation
    [event] = await events(client, account_id=account, action="credential.version_recovered")
    assert json.loads(event.details)["evidence"] == "access_ended_during_write"
    owed = await client.get(f"/v1/rotations?account_id={account}", headers=admin)
    assert [(o["reason"], o["status"]) for o in owed.json()] == [("gestor_unassigned", "open")]
