"""`custodia audit reconcile` against the real OpenBao file audit log.

The first tests make reads as the service makes them: a ``checkout.granted``
event in the chain, then a read through a single-use child token whose metadata
names the checkout. The end-to-end test goes through the API instead: credential
writes (fingerprints, never a read of the password) and real checkouts.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from service.audit.log import Entry
from service.cli import main as cli_main
from service.devstack.bootstrap import AppRoleCredentials
from service.principal import Caller, Principal
from service.settings import Settings
from tests.bao_server import DevServer
from tests.support.apps import AppFactory, Client, frozen, runtime_of, totp_aligned
from tests.support.factories import check_out, code_at, create_account, put_credential, ready_gestor


async def _granted_read(client: Client, account_id: str) -> str:
    rt = runtime_of(client)
    checkout_id, gestor_id = str(uuid.uuid4()), str(uuid.uuid4())
    gestor = Caller(Principal(str(uuid.uuid4()), "g", "gestor", gestor_id=gestor_id))
    await rt.record(
        gestor,
        Entry(
            "checkout.granted",
            "granted",
            account_id=account_id,
            subject=f"checkout:{checkout_id}",
            details={"checkout_id": checkout_id, "minutes": 30},
        ),
    )
    metadata = {"checkout_id": checkout_id, "gestor_id": gestor_id, "account_id": account_id}
    assert await rt.vault.checkout_read(account_id, metadata) is not None
    return checkout_id


async def _direct_read(bao: DevServer, account_id: str) -> None:
    """A read with no checkout behind it: an operator's root token, straight to OpenBao.

    The service's own token cannot read credentials at all (its policy; test_bootstrap).
    """
    async with httpx.AsyncClient(base_url=f"{bao.addr}/v1/") as vault:
        resp = await vault.get(
            f"custodia-kv/data/accounts/{account_id}", headers={"X-Vault-Token": bao.root_token}
        )
    assert resp.status_code == 200, resp.text


def _log_entries(bao: DevServer, since: datetime) -> list[dict[str, Any]]:
    entries = []
    for line in bao.audit_log_path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if datetime.fromisoformat(entry["time"]) >= since:
            entries.append(entry)
    return entries


async def _reconcile(
    settings: Settings,
    bao: DevServer,
    since: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str]:
    monkeypatch.setenv("CUSTODIA_DATABASE_URL", settings.database_url)
    argv = ["audit", "reconcile", "--vault-audit-log", str(bao.audit_log_path), "--since", since]
    capsys.readouterr()
    code = await asyncio.to_thread(cli_main, argv)
    return code, capsys.readouterr().out


async def test_reconcile_clean_run_then_a_direct_read(
    client: Client,
    settings: Settings,
    bao: DevServer,
    approle: AppRoleCredentials,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rt = runtime_of(client)
    since = datetime.now(UTC).isoformat()
    account_id = str(uuid.uuid4())
    await rt.vault.write_credential(account_id, {"username": "u", "password": "p"}, cas=0)
    checkouts = [await _granted_read(client, account_id) for _ in range(3)]

    code, out = await _reconcile(settings, bao, since, monkeypatch, capsys)
    assert code == 0, out
    assert "3 credential reads, 0 mismatches" in out

    # The service's own AppRole token, no checkout behind it.
    await _direct_read(bao, account_id)
    code, out = await _reconcile(settings, bao, since, monkeypatch, capsys)
    assert code == 1, out
    reported = [line for line in out.splitlines() if "read_without_checkout" in line]
    assert len(reported) == 1 and f"account={account_id}" in reported[0], out
    assert not any(checkout in out for checkout in checkouts)


async def test_reconcile_reports_a_checkout_without_read(
    client: Client,
    settings: Settings,
    bao: DevServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rt = runtime_of(client)
    since = datetime.now(UTC).isoformat()
    account_id = str(uuid.uuid4())
    await rt.vault.write_credential(account_id, {"username": "u", "password": "p"}, cas=0)
    await _granted_read(client, account_id)
    orphan = str(uuid.uuid4())
    await rt.record(
        Caller(Principal(str(uuid.uuid4()), "g", "gestor", gestor_id=str(uuid.uuid4()))),
        Entry("checkout.granted", "granted", account_id=account_id, subject=f"checkout:{orphan}"),
    )
    # a later read, so the orphan lies inside the span the log covers
    await _granted_read(client, account_id)
    code, out = await _reconcile(settings, bao, since, monkeypatch, capsys)
    assert code == 1, out
    assert f"checkout_without_read account={account_id} checkout={orphan}" in out, out


async def test_api_writes_and_checkouts_reconcile_clean(
    make_client: AppFactory,
    settings: Settings,
    bao: DevServer,
    approle: AppRoleCredentials,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Credential writes never read the password: only checkouts show up as reads."""
    started = datetime.now(UTC)
    # Advanced one TOTP step per checkout.
    c, clock, admin = await frozen(make_client, totp_aligned(started), "reconcile-admin")
    account_id = await create_account(c, admin)
    await put_credential(c, admin, account_id, "Alta-Inicial-1")
    # The same password: refused on fingerprints alone.
    await put_credential(c, admin, account_id, "Alta-Inicial-1", expect=422)
    _, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    checkouts: list[str] = []
    for new_credential in ({"username": "oficial", "password": "Del-Gestor-2"}, None):
        totp = code_at(seed, clock.now())
        checkouts.append(
            await check_out(c, account_id, headers, totp, reason="publicar", minutes=10)
        )
        body = {} if new_credential is None else {"new_credential": new_credential}
        back = await c.post(f"/v1/checkouts/{checkouts[-1]}/checkin", json=body, headers=headers)
        assert back.status_code == 200, back.text
        clock.advance(timedelta(seconds=30))  # the next TOTP step
    # The gestor's check-in version is fingerprinted too.
    await put_credential(c, admin, account_id, "Del-Gestor-2", expect=422)
    await put_credential(c, admin, account_id, "Rotada-Admin-3")

    code, out = await _reconcile(settings, bao, started.isoformat(), monkeypatch, capsys)
    assert code == 0, out
    assert "2 credential reads, 0 mismatches" in out, out
    entries = _log_entries(bao, started)
    on_account = [
        e for e in entries if e["request"].get("path") == f"custodia-kv/data/accounts/{account_id}"
    ]
    reads = [e for e in on_account if e["request"].get("operation") == "read"]
    # Both log entries (request and response) of both checkout reads, and nothing else.
    assert len(reads) == 4, reads
    for entry in reads:
        metadata = (entry.get("auth") or {}).get("metadata") or {}
        assert metadata.get("checkout_id") in checkouts, entry
    writes = {e["request"]["operation"] for e in on_account} - {"read"}
    # "patch": a check-in merges into the current version inside Vault, reading nothing.
    assert writes and writes <= {"create", "update", "patch"}, writes
    hmacs = [
        e
        for e in entries
        if e["request"].get("path") == "custodia-transit/hmac/custodia-fingerprint"
    ]
    assert hmacs, "credential writes go through the fingerprint key"
    assert not any("Alta-Inicial" in line or "Rotada" in line for line in map(json.dumps, entries))

    await _direct_read(bao, account_id)
    code, out = await _reconcile(settings, bao, started.isoformat(), monkeypatch, capsys)
    assert code == 1, out
    reported = [line for line in out.splitlines() if "read_without_checkout" in line]
    assert len(reported) == 1 and f"account={account_id}" in reported[0], out
    assert "service or root token used directly" in reported[0]
