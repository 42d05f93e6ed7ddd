"""No secret reaches SQL or the logs: canaries go through every custody endpoint, then
every table (and the SQLite file with its WAL) and a real uvicorn's stdout are searched."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyotp

from service.principal import SYSTEM
from service.settings import Settings
from service.tokens.usecases import issue_token
from tests.support.apps import Client, runtime_of
from tests.support.canaries import SERVE, dump_tables, leaks
from tests.support.factories import account_body, handle_uid, seed_of, uid
from tests.support.processes import ServiceProcess

PASSWORD = "CanaryPw-7f3a9c1e"
ROTATED = "CanaryRot-4b8d2e"
BACKUP = "CanaryBk-19d2aa"
PLATFORM_SEED = "CANARYSEEDQQQQQQZZZZ2345"


async def run_flow(http: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, Any]:
    """The custody cycle with canaries; returns the secrets that went through it."""
    account = await http.post(
        "/v1/accounts",
        json=account_body(handle=handle_uid("canario"), display_name="Canario", area="CS"),
        headers=admin,
    )
    account_id = account.json()["id"]
    credential = {
        "username": "oficial",
        "password": PASSWORD,
        "backup_codes": [BACKUP],
        "totp_secret": PLATFORM_SEED,
        "recovery_email": "canario@example.gob.mx",
    }
    put = await http.put(f"/v1/accounts/{account_id}/credential", json=credential, headers=admin)
    assert put.status_code == 200, put.text
    # Refused writes carry the canaries too: the errors must not echo them.
    for bad in ({"unknown": 1}, {"recovery_email": "mal"}, {"password": PASSWORD}):
        refused = await http.put(
            f"/v1/accounts/{account_id}/credential", json={**credential, **bad}, headers=admin
        )
        assert refused.status_code in (400, 422) and PASSWORD not in refused.text
    gestor = await http.post(
        "/v1/gestores",
        json={
            "name": uid("G"),
            "email": f"{uid('g')}@example.gob.mx",
            "kind": "externo",
            "provider": "Agencia",
            "area": "CS",
        },
        headers=admin,
    )
    gestor_id = gestor.json()["id"]
    token = (
        await http.post(f"/v1/gestores/{gestor_id}/tokens", json={"name": "canario"}, headers=admin)
    ).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    await http.post(
        f"/v1/accounts/{account_id}/gestores", json={"gestor_id": gestor_id}, headers=admin
    )
    await http.post("/v1/me/responsiva", json={"accept": True}, headers=headers)
    seed = seed_of(
        (await http.post("/v1/me/totp/enrollment", headers=headers)).json()["otpauth_uri"]
    )
    now = datetime.now(UTC)
    confirm_code = pyotp.TOTP(seed).at(now, counter_offset=-1)
    confirmed = await http.post("/v1/me/totp/confirm", json={"code": confirm_code}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    code = pyotp.TOTP(seed).at(now)
    out = await http.post(
        f"/v1/accounts/{account_id}/checkouts",
        json={"totp_code": code, "reason": "canario"},
        headers=headers,
    )
    assert out.status_code == 201, out.text
    platform_code = out.json()["platform_totp"]["code"]
    replay = await http.post(
        f"/v1/accounts/{account_id}/checkouts",
        json={"totp_code": code, "reason": "canario"},
        headers=headers,
    )
    assert replay.status_code in (401, 409)
    back = await http.post(
        f"/v1/checkouts/{out.json()['checkout_id']}/checkin",
        json={"new_credential": {"username": "oficial", "password": ROTATED}},
        headers=headers,
    )
    assert back.status_code == 200, back.text
    return {
        "strings": [
            PASSWORD,
            ROTATED,
            BACKUP,
            PLATFORM_SEED,
            seed,
            token,
            admin["Authorization"].split()[1],
        ],
        "codes": [code, confirm_code, platform_code],
    }


async def test_no_secret_in_sql(client: Client, admin: dict[str, str]) -> None:
    secrets = await run_flow(client, admin)
    dump = await dump_tables(client)
    assert "canario" in dump  # the dump does contain this flow's rows
    assert len(leaks(f"{PASSWORD} x{secrets['codes'][0]}.", secrets)) == 2  # the search can fail
    assert leaks(dump, secrets) == []
    settings = runtime_of(client).settings
    if settings.is_sqlite:
        path = Path(settings.database_url.split("///", 1)[1])
        for file in (path, Path(f"{path}-wal")):
            if file.exists():
                # Read in another process: closing any fd of the database file in this
                # process would drop SQLite's POSIX locks and let writers corrupt it.
                raw = subprocess.run(
                    ["cat", str(file)], capture_output=True, check=True
                ).stdout.decode("latin-1")
                assert [s for s in secrets["strings"] if s in raw] == [], file


async def test_no_secret_in_logs_of_a_real_server(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    issued = await issue_token(runtime_of(client), SYSTEM, role="admin", name="canary-admin")
    admin = {"Authorization": f"Bearer {issued.token}"}
    log_path = tmp_path / "server.log"
    server = ServiceProcess(
        settings, log_path, script=SERVE, CUSTODIA_BACKGROUND_TASKS="0", CUSTODIA_LOG_LEVEL="DEBUG"
    )
    try:
        await asyncio.to_thread(server.wait_ready)
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            secrets = await run_flow(http, admin)
    finally:
        server.stop()
    logs = log_path.read_text("utf-8", "replace")
    assert '"route": "/v1/accounts/{account_id}/checkouts"' in logs  # the logs were captured
    assert leaks(logs, secrets) == [], [line for line in logs.splitlines() if leaks(line, secrets)][
        :3
    ]
