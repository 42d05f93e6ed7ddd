"""Revealed backup codes reach the gestor and nothing else: canary codes go out one at a
time, then every table (and the SQLite file with its WAL) and a real uvicorn's logs are
searched for them (the idea of tests/test_custody_secrets.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyotp

from service.principal import SYSTEM
from service.settings import Settings
from service.tokens.usecases import issue_token
from tests.support.apps import ROOT, Client, runtime_of
from tests.support.canaries import SERVE, dump_tables, leaks
from tests.support.factories import seed_of
from tests.support.processes import free_port

PASSWORD = "CanaryPw-0b5e71aa"
BACKUP_CODES = ["CanaryBk-6c04e1", "CanaryBk-93d7f0"]


async def ready(http: httpx.AsyncClient, admin: dict[str, str]) -> tuple[str, dict[str, str], str]:
    """An account holding canary codes and a gestor ready to check it out."""
    handle = f"bk{uuid.uuid4().hex[:10]}"
    account = await http.post(
        "/v1/accounts",
        json={
            "platform": "x",
            "handle": handle,
            "url": f"https://x.com/{handle}",
            "display_name": "Canario de respaldo",
            "area": "CS",
            "kind": "oficial",
        },
        headers=admin,
    )
    account_id = account.json()["id"]
    credential = {"username": "oficial", "password": PASSWORD, "backup_codes": BACKUP_CODES}
    put = await http.put(f"/v1/accounts/{account_id}/credential", json=credential, headers=admin)
    assert put.status_code == 200, put.text
    gestor = await http.post(
        "/v1/gestores",
        json={
            "name": f"Respaldo {handle}",
            "email": f"{handle}@example.gob.mx",
            "kind": "externo",
            "provider": "Agencia",
            "area": "CS",
        },
        headers=admin,
    )
    gestor_id = gestor.json()["id"]
    token = await http.post(
        f"/v1/gestores/{gestor_id}/tokens", json={"name": "respaldo"}, headers=admin
    )
    headers = {"Authorization": f"Bearer {token.json()['token']}"}
    await http.post(
        f"/v1/accounts/{account_id}/gestores", json={"gestor_id": gestor_id}, headers=admin
    )
    await http.post("/v1/me/responsiva", json={"accept": True}, headers=headers)
    enrolled = await http.post("/v1/me/totp/enrollment", headers=headers)
    return account_id, headers, seed_of(enrolled.json()["otpauth_uri"])


async def run_flow(http: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, Any]:
    """Check out, take every code one at a time, ask once more; the secrets involved."""
    account_id, headers, seed = await ready(http, admin)
    now = datetime.now(UTC)
    confirm = pyotp.TOTP(seed).at(now, counter_offset=-1)
    confirmed = await http.post("/v1/me/totp/confirm", json={"code": confirm}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    code = pyotp.TOTP(seed).at(now)
    out = await http.post(
        f"/v1/accounts/{account_id}/checkouts",
        json={"totp_code": code, "reason": "canario"},
        headers=headers,
    )
    assert out.status_code == 201, out.text
    assert not any(b in out.text for b in BACKUP_CODES)
    checkout = out.json()["checkout_id"]
    path = f"/v1/checkouts/{checkout}/backup-code"
    for expected in BACKUP_CODES:
        one = await http.post(path, json={"reason": "canario"}, headers=headers)
        assert one.status_code == 200 and one.json()["code"] == expected, one.text
    spent = await http.post(path, json={"reason": "canario"}, headers=headers)
    assert spent.status_code == 409, spent.text
    return {"strings": [PASSWORD, *BACKUP_CODES, seed], "codes": [code, confirm]}


async def test_no_revealed_code_in_sql(client: Client, admin: dict[str, str]) -> None:
    secrets = await run_flow(client, admin)
    dump = await dump_tables(client)
    assert "checkout.backup_code_revealed" in dump  # the reveals are in the dump
    assert leaks(dump, secrets) == []
    settings = runtime_of(client).settings
    if settings.is_sqlite:
        path = Path(settings.database_url.split("///", 1)[1])
        for file in (path, Path(f"{path}-wal")):
            if file.exists():
                # Another process reads it: closing an fd of the database file here
                # would drop SQLite's POSIX locks (see tests/test_custody_secrets.py).
                raw = subprocess.run(
                    ["cat", str(file)], capture_output=True, check=True
                ).stdout.decode("latin-1")
                assert [s for s in secrets["strings"] if s in raw] == [], file


async def test_no_revealed_code_in_the_logs_of_a_real_server(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "CUSTODIA_DATABASE_URL": settings.database_url,
        "CUSTODIA_VAULT_ADDR": settings.vault_addr,
        "CUSTODIA_VAULT_ROLE_ID": settings.vault_role_id or "",
        "CUSTODIA_VAULT_SECRET_ID": settings.vault_secret_id or "",
        "CUSTODIA_BACKGROUND_TASKS": "0",
        "CUSTODIA_LOG_LEVEL": "DEBUG",
        "CUSTODIA_PORT": str(port),
    }
    issued = await issue_token(runtime_of(client), SYSTEM, role="admin", name="backup-canary")
    admin = {"Authorization": f"Bearer {issued.token}"}
    log_path = tmp_path / "server.log"
    log_file = log_path.open("wb")  # a file: an unread pipe would stall the server
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE], cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for _ in range(100):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            secrets = await run_flow(http, admin)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log_file.close()
    logs = log_path.read_text("utf-8", "replace")
    assert '"route": "/v1/checkouts/{checkout_id}/backup-code"' in logs  # captured
    assert leaks(logs, secrets) == [], [line for line in logs.splitlines() if leaks(line, secrets)]
