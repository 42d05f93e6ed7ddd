"""`custodia audit reconcile` against the real OpenBao file audit log.

Checkout endpoints are another issue's; until they land, the reads here are made
as the service makes them: a ``checkout.granted`` event in the chain, then a
read through a single-use child token whose metadata names the checkout.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from service.audit.log import Entry
from service.cli import main as cli_main
from service.principal import Caller, Principal
from service.settings import Settings
from tests.bao_server import DevServer
from tests.conftest import Client, runtime_of


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
    assert await rt.vault.read_credential(account_id) is not None
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
