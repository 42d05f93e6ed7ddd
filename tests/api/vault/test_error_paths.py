"""No error names a Vault path (issue 12, item 10): each Vault failure the API can answer
names the operation and the account or gestor, never a mount, KV path or transit key.

Every Vault error class is provoked against real OpenBao, as in test_vault_errors.py,
and both the problem JSON and the log lines written meanwhile are searched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from service.devstack.bootstrap import bootstrap_vault
from service.vault.types import SecretVersion
from tests.bao_server import DevServer, free_port_pair, start_dev_server, stop
from tests.support.apps import ROOT, AppFactory, Client, bearer, runtime_of
from tests.support.factories import code_at, create_account, ready_gestor

# What would give Vault's layout away: mounts, KV v2 and transit path parts, key,
# role and policy names (the defaults and the ones these tests configure).
VAULT_PATHS = (
    "custodia-kv",
    "custodia-transit",
    "custodia-audit",
    "custodia-fingerprint",
    "custodia-checkout",
    "custodia-service",
    "/data/",
    "/metadata/",
    "transit/",
    "auth/token",
    "auth/approle",
    "outside-kv",
    "outside-policy",
    "no-such-role",
)
# KV paths without their mount; the API's own URLs (``instance``) have these too.
KV_PATHS = ("accounts/", "gestores/", "fingerprints/", "service/webhook")


def assert_names_no_vault_path(text: str) -> None:
    for path in VAULT_PATHS:
        assert path not in text, (path, text)


def problem_of(resp: httpx.Response, status: int) -> dict[str, Any]:
    """The problem JSON, checked for Vault paths (and the whole body with it)."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert_names_no_vault_path(resp.text)
    problem: dict[str, Any] = resp.json()
    said = repr({k: v for k, v in problem.items() if k != "instance"})
    for path in KV_PATHS:
        assert path not in said, (path, said)
    return problem


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[DevServer, dict[str, str]]]:
    """A bootstrapped OpenBao of this test's own, to break; with its AppRole settings."""
    server = start_dev_server(tmp_path / "bao")
    try:
        creds = bootstrap_vault(server.addr, server.root_token, ROOT / "vault_policies")
        yield (
            server,
            {
                "vault_addr": server.addr,
                "vault_role_id": creds.role_id,
                "vault_secret_id": creds.secret_id,
            },
        )
    finally:
        stop(server)


def as_root(server: DevServer, method: str, path: str, body: Any = None) -> None:
    resp = httpx.request(
        method, f"{server.addr}/v1/{path}", headers={"X-Vault-Token": server.root_token}, json=body
    )
    assert resp.status_code < 300, resp.text


async def put_credential(client: Client, admin: dict[str, str], account_id: str) -> httpx.Response:
    return await client.put(
        f"/v1/accounts/{account_id}/credential",
        json={"username": "comunicacion", "password": "Clave-Nueva-2026"},
        headers=admin,
    )


async def test_a_broken_vault_is_answered_without_its_paths(
    fresh: tuple[DevServer, dict[str, str]],
    make_client: AppFactory,
    client: Client,
    admin: dict[str, str],
) -> None:
    """VaultMisconfigured (no KV mount, no transit keys) and VaultUnavailable (sealed)."""
    server, vault = fresh
    broken = await make_client(**vault)
    account = await create_account(client, admin)
    with capture_logs() as logs:
        as_root(server, "DELETE", "sys/mounts/custodia-kv")
        problem = problem_of(await put_credential(broken, admin, account), 503)
        assert problem["title"] == "Vault is not set up for this service"
        assert "reading credential versions" in problem["detail"] and account in problem["detail"]
        assert "CUSTODIA_VAULT_KV_MOUNT" in problem["detail"]

        for key in ("custodia-audit", "custodia-fingerprint"):
            as_root(
                server, "POST", f"custodia-transit/keys/{key}/config", {"deletion_allowed": True}
            )
            as_root(server, "DELETE", f"custodia-transit/keys/{key}")
        problem = problem_of(await broken.get("/v1/audit/public-key", headers=admin), 503)
        assert "reading the audit public keys" in problem["detail"]
        assert "CUSTODIA_VAULT_AUDIT_KEY" in problem["detail"]
        problem = problem_of(await put_credential(broken, admin, account), 503)
        assert "fingerprinting a password" in problem["detail"]

        as_root(server, "POST", "sys/seal")
        problem = problem_of(await put_credential(broken, admin, account), 503)
        assert "sealed" in problem["detail"]
    assert_names_no_vault_path(repr(logs))


async def test_vault_denied_is_answered_without_its_paths(
    make_client: AppFactory, client: Client, admin: dict[str, str]
) -> None:
    """VaultDenied: the settings point outside the service's policy."""
    account = await create_account(client, admin)
    with capture_logs() as logs:
        outside = await make_client(vault_audit_key="outside-policy")
        problem = problem_of(await outside.get("/v1/audit/public-key", headers=admin), 503)
        assert problem["title"] == "Vault denied the request"
        assert "reading the audit public keys" in problem["detail"]
        assert "CUSTODIA_VAULT_AUDIT_KEY" in problem["detail"]

        outside = await make_client(vault_kv_mount="outside-kv")
        problem = problem_of(await put_credential(outside, admin, account), 503)
        assert "reading credential versions" in problem["detail"] and account in problem["detail"]
    assert_names_no_vault_path(repr(logs))


async def test_an_unreachable_vault_is_answered_without_its_paths(
    make_client: AppFactory, client: Client, admin: dict[str, str]
) -> None:
    """VaultUnavailable on the three paths that answer it: credential, checkout, departure."""
    account = await create_account(client, admin)
    gestor, headers, seed = await ready_gestor(client, admin, account)
    with capture_logs() as logs:
        down = await make_client(
            vault_addr=f"http://127.0.0.1:{free_port_pair()}",
            vault_role_id=None,
            vault_secret_id=None,
            vault_token="unused",
        )
        problem = problem_of(await put_credential(down, admin, account), 503)
        assert "unreachable" in problem["detail"] and "fingerprinting" in problem["detail"]
        checkout = await down.post(
            f"/v1/accounts/{account}/checkouts",
            json={"totp_code": code_at(seed, runtime_of(down).clock.now()), "reason": "aviso"},
            headers=headers,
        )
        problem_of(checkout, 503)
        departure = await down.post(
            f"/v1/gestores/{gestor}/departure", json={"reason": "baja"}, headers=admin
        )
        assert problem_of(departure, 503)["seed_destroyed"] is False
    assert_names_no_vault_path(repr(logs))


async def test_a_missing_checkout_role_is_answered_without_its_name(
    make_client: AppFactory, client: Client, admin: dict[str, str]
) -> None:
    account = await create_account(client, admin)
    assert (await put_credential(client, admin, account)).status_code == 200
    _, headers, seed = await ready_gestor(client, admin, account)
    with capture_logs() as logs:
        broken = await make_client(vault_checkout_role="no-such-role")
        checkout = await broken.post(
            f"/v1/accounts/{account}/checkouts",
            json={"totp_code": code_at(seed, runtime_of(broken).clock.now()), "reason": "aviso"},
            headers=headers,
        )
        problem_of(checkout, 503)
    assert_names_no_vault_path(repr(logs))


async def test_a_lost_credential_race_is_a_409_naming_the_account_not_the_path(
    make_client: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """VaultConflict: another writer's version lands between our read and our write."""
    racing = await make_client()
    admin = await bearer(racing, "admin", "vault-conflict")
    account = await create_account(racing, admin)
    vault = runtime_of(racing).vault
    write = vault.write_credential

    async def another_writer_first(
        account_id: str, data: dict[str, Any], cas: int
    ) -> SecretVersion:
        await write(account_id, {"username": "otro", "password": "Otra-Clave-1"}, cas)
        return await write(account_id, data, cas)

    monkeypatch.setattr(vault, "write_credential", another_writer_first)
    with capture_logs() as logs:
        problem = problem_of(await put_credential(racing, admin, account), 409)
    assert problem["title"] == "Concurrent credential write"
    assert "writing a credential" in problem["detail"] and account in problem["detail"]
    assert_names_no_vault_path(repr(logs))
