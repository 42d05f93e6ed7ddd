"""Every Vault failure leaves the adapter as one of the service's errors, naming the
operation and never a secret, a token or the request.

Against real OpenBao dev servers: the session's for what only reads or adds, a
fresh one per test for what breaks it (deleted keys, disabled mounts, a seal).
"""

from __future__ import annotations

import base64
import secrets
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from service.devstack.bootstrap import AppRoleCredentials, bootstrap_vault
from service.errors import (
    DomainError,
    VaultConflict,
    VaultDenied,
    VaultMisconfigured,
    VaultUnavailable,
)
from service.settings import Settings
from service.vault.client import Vault
from tests.bao_server import DevServer, free_port_pair, start_dev_server, stop
from tests.support.apps import ROOT, AppFactory
from tests.support.factories import create_account

CANARY = "canary-" + secrets.token_hex(8)
CANARY_B64 = base64.b64encode(CANARY.encode()).decode()


@dataclass(frozen=True)
class Fresh:
    server: DevServer
    creds: AppRoleCredentials


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Fresh]:
    """A bootstrapped OpenBao of this test's own, to break at will."""
    server = start_dev_server(tmp_path / "bao")
    try:
        yield Fresh(
            server, bootstrap_vault(server.addr, server.root_token, ROOT / "vault_policies")
        )
    finally:
        stop(server)


def as_root(server: DevServer, method: str, path: str, body: Any = None) -> dict[str, Any]:
    resp = httpx.request(
        method,
        f"{server.addr}/v1/{path}",
        headers={"X-Vault-Token": server.root_token},
        json=body,
    )
    assert resp.status_code < 300, resp.text
    return dict(resp.json()) if resp.content else {}


def delete_transit_key(server: DevServer, name: str) -> None:
    as_root(server, "POST", f"custodia-transit/keys/{name}/config", {"deletion_allowed": True})
    as_root(server, "DELETE", f"custodia-transit/keys/{name}")


def service_token(server: DevServer, **fields: Any) -> str:
    """A token with the service's policy, made by root (e.g. not renewable)."""
    made = as_root(
        server, "POST", "auth/token/create", {"policies": ["custodia-service"], **fields}
    )
    return str(made["auth"]["client_token"])


@asynccontextmanager
async def vault_at(
    addr: str, creds: AppRoleCredentials | None = None, token: str | None = None, **more: Any
) -> AsyncIterator[Vault]:
    settings = Settings(
        vault_addr=addr,
        vault_token=token,
        vault_role_id=creds.role_id if creds else None,
        vault_secret_id=creds.secret_id if creds else None,
        background_tasks=False,
        **more,
    )
    vault = Vault(settings)
    try:
        yield vault
    finally:
        await vault.close()


def count_logins(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """Record each AppRole login the adapter makes, whoever asks for it."""
    logins: list[int | None] = []
    real = vault.login

    async def login() -> int | None:
        logins.append(await real())
        return logins[-1]

    monkeypatch.setattr(vault, "login", login)
    return logins


async def failure(call: Callable[[], Awaitable[object]], kind: type[DomainError]) -> DomainError:
    """The error ``call`` raises: exactly ``kind``, carrying no canary and no hvac cause."""
    with pytest.raises(DomainError) as info:
        await call()
    exc = info.value
    assert type(exc) is kind, f"{type(exc).__name__}: {exc.detail}"
    seen = " ".join([str(exc), exc.detail, repr(exc.extra), repr(exc.args)])
    for canary in (CANARY, CANARY_B64):
        assert canary not in seen
    assert exc.__cause__ is None and exc.__suppress_context__
    return exc


# -- missing keys and mounts ------------------------------------------------


async def test_missing_transit_keys_name_the_key_and_the_operation(fresh: Fresh) -> None:
    delete_transit_key(fresh.server, "custodia-audit")
    delete_transit_key(fresh.server, "custodia-fingerprint")
    async with vault_at(fresh.server.addr, fresh.creds) as vault:
        await vault.login()
        cases: list[tuple[Callable[[], Awaitable[object]], str, str, str]] = [
            (
                lambda: vault.sign(b"checkpoint"),
                "custodia-audit",
                "the audit signing key",
                "signing an audit checkpoint",
            ),
            (
                vault.public_keys,
                "custodia-audit",
                "the audit signing key",
                "reading the audit public keys",
            ),
            (
                lambda: vault.fingerprint(CANARY),
                "custodia-fingerprint",
                "the fingerprint key",
                "fingerprinting",
            ),
        ]
        for call, key, named, action in cases:
            exc = await failure(call, VaultMisconfigured)
            assert exc.status == 503
            # The key in words and the setting locating it; never its Vault path.
            assert named in exc.detail and action in exc.detail, exc.detail
            assert "CUSTODIA_VAULT_TRANSIT_MOUNT" in exc.detail
            assert key not in exc.detail and "custodia-transit" not in exc.detail


async def test_a_missing_mount_is_an_error_not_an_absent_secret(fresh: Fresh) -> None:
    as_root(fresh.server, "DELETE", "sys/mounts/custodia-kv")
    as_root(fresh.server, "DELETE", "sys/mounts/custodia-transit")
    gestor = str(uuid.uuid4())
    async with vault_at(fresh.server.addr, fresh.creds) as vault:
        await vault.login()
        exc = await failure(lambda: vault.get_totp_seed(gestor), VaultMisconfigured)
        assert f"gestor {gestor}" in exc.detail and "CUSTODIA_VAULT_KV_MOUNT" in exc.detail
        assert "custodia-kv" not in exc.detail and "/totp" not in exc.detail
        await failure(lambda: vault.credential_versions(gestor), VaultMisconfigured)
        # A destroy on a missing mount must not pass for done.
        await failure(lambda: vault.destroy_totp_seed(gestor), VaultMisconfigured)
        exc = await failure(lambda: vault.fingerprint(CANARY), VaultMisconfigured)
        assert "CUSTODIA_VAULT_TRANSIT_MOUNT" in exc.detail
        assert "custodia-transit" not in exc.detail


async def test_absent_secrets_are_still_none(bao: DevServer, approle: AppRoleCredentials) -> None:
    account = str(uuid.uuid4())
    async with vault_at(bao.addr, approle) as vault:
        await vault.login()
        assert await vault.get_totp_seed(account) is None
        assert await vault.credential_versions(account) == {}
        assert await vault.read_fingerprints(account) == {}
        await vault.destroy_totp_seed(account)
        await vault.destroy_credential(account)


async def test_the_api_answers_a_missing_key_with_a_problem_naming_it(
    fresh: Fresh, make_client: AppFactory, admin: dict[str, str]
) -> None:
    delete_transit_key(fresh.server, "custodia-audit")
    delete_transit_key(fresh.server, "custodia-fingerprint")
    client = await make_client(
        vault_addr=fresh.server.addr,
        vault_role_id=fresh.creds.role_id,
        vault_secret_id=fresh.creds.secret_id,
    )
    resp = await client.get("/v1/audit/public-key", headers=admin)
    assert resp.status_code == 503, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["title"] == "Vault is not set up for this service"
    assert "the audit signing key" in resp.json()["detail"]
    assert "CUSTODIA_VAULT_AUDIT_KEY" in resp.json()["detail"]
    assert "custodia-audit" not in resp.text and "custodia-transit" not in resp.text

    account_id = await create_account(client, admin)
    resp = await client.put(
        f"/v1/accounts/{account_id}/credential",
        json={"username": "comunicacion", "password": CANARY},
        headers=admin,
    )
    assert resp.status_code == 503, resp.text
    assert "the fingerprint key" in resp.json()["detail"]
    assert "custodia-fingerprint" not in resp.text and "custodia-transit" not in resp.text
    assert CANARY not in resp.text and CANARY_B64 not in resp.text


# -- token renewal and the retry after a new login ---------------------------


async def test_renewing_a_non_renewable_token_logs_in_with_approle(
    bao: DevServer, approle: AppRoleCredentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = service_token(bao, renewable=False, ttl="1h")
    async with vault_at(bao.addr, approle, token=token) as vault:
        logins = count_logins(vault, monkeypatch)
        assert await vault.renew_token() == 1800  # half the AppRole token's 1h
        assert logins == [3600]
        # The new token renews by itself: no further login.
        assert await vault.renew_token() == 1800
        assert logins == [3600]


async def test_a_static_root_token_is_left_alone(bao: DevServer) -> None:
    async with vault_at(bao.addr, token=bao.root_token) as vault:
        assert await vault.renew_token() == 3600  # not renewable, and nothing to log in with


async def test_renewing_a_revoked_token_logs_in_again(
    bao: DevServer, approle: AppRoleCredentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = service_token(bao)
    as_root(bao, "POST", "auth/token/revoke", {"token": token})
    async with vault_at(bao.addr, approle, token=token) as vault:
        logins = count_logins(vault, monkeypatch)
        assert await vault.renew_token() == 1800
        assert logins == [3600]


async def test_a_refusal_after_a_fresh_login_is_vault_denied(
    fresh: Fresh, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A role whose tokens lack the default policy, so they may not renew themselves.
    role = "auth/approle/role/no-renew"
    as_root(
        fresh.server,
        "POST",
        role,
        {"token_policies": ["custodia-service"], "token_no_default_policy": True},
    )
    role_id = as_root(fresh.server, "GET", f"{role}/role-id")["data"]["role_id"]
    secret_id = as_root(fresh.server, "POST", f"{role}/secret-id")["data"]["secret_id"]
    creds = AppRoleCredentials(role_id, secret_id)
    async with vault_at(fresh.server.addr, creds) as vault:
        await vault.login()
        logins = count_logins(vault, monkeypatch)
        exc = await failure(vault.renew_token, VaultDenied)
        assert len(logins) == 1  # one new login, one retry, then the error
        assert "renewing the service token" in exc.detail
        assert secret_id not in exc.detail and role_id not in exc.detail


async def test_the_retry_after_a_new_login_is_translated_too(fresh: Fresh) -> None:
    delete_transit_key(fresh.server, "custodia-audit")
    token = service_token(fresh.server)
    as_root(fresh.server, "POST", "auth/token/revoke", {"token": token})
    async with vault_at(fresh.server.addr, fresh.creds, token=token) as vault:
        # Forbidden (revoked token), login, then the retry meets the missing key.
        exc = await failure(lambda: vault.sign(b"checkpoint"), VaultMisconfigured)
        assert "the audit signing key" in exc.detail and token not in exc.detail


async def test_a_refused_approle_login_is_vault_denied(bao: DevServer) -> None:
    creds = AppRoleCredentials(str(uuid.uuid4()), CANARY)
    async with vault_at(bao.addr, creds) as vault:
        exc = await failure(vault.login, VaultDenied)
        assert "logging in" in exc.detail and creds.role_id not in exc.detail


# -- the service's own policy -------------------------------------------------


async def test_a_path_outside_the_policy_is_vault_denied(
    bao: DevServer, approle: AppRoleCredentials
) -> None:
    async with vault_at(bao.addr, approle, vault_audit_key="outside-policy") as vault:
        await vault.login()
        exc = await failure(lambda: vault.sign(b"checkpoint"), VaultDenied)
        assert exc.status == 503
        assert "signing an audit checkpoint" in exc.detail
        # The setting that points outside the policy; not the key's name or path.
        assert "CUSTODIA_VAULT_AUDIT_KEY" in exc.detail and "outside-policy" not in exc.detail
    token = service_token(bao)
    async with vault_at(bao.addr, token=token, vault_audit_key="outside-policy") as vault:
        exc = await failure(vault.public_keys, VaultDenied)
        assert "reading the audit public keys" in exc.detail and token not in exc.detail


async def test_a_lost_check_and_set_is_vault_conflict_logged_without_the_secret(
    bao: DevServer, approle: AppRoleCredentials
) -> None:
    account = str(uuid.uuid4())
    async with vault_at(bao.addr, approle) as vault:
        await vault.login()
        await vault.write_credential(account, {"password": CANARY}, cas=0)
        with capture_logs() as logs:
            exc = await failure(
                lambda: vault.write_credential(account, {"password": CANARY + "2"}, cas=0),
                VaultConflict,
            )
        assert "read and retry" in exc.detail and account in exc.detail
        assert [e["event"] for e in logs] == ["vault_call_failed"]
        assert CANARY not in repr(logs) and "check-and-set" not in repr(logs)
        await vault.destroy_credential(account)


# -- Vault away, sealed, silent or behind a broken proxy -----------------------


async def test_an_unreachable_vault_is_vault_unavailable() -> None:
    addr = f"http://127.0.0.1:{free_port_pair()}"  # nothing listens there
    creds = AppRoleCredentials(str(uuid.uuid4()), CANARY)
    async with vault_at(addr, creds, token=CANARY) as vault:
        exc = await failure(lambda: vault.sign(b"checkpoint"), VaultUnavailable)
        assert "unreachable" in exc.detail and "signing an audit checkpoint" in exc.detail
        # Not an absent secret: a read that cannot happen is an error.
        await failure(lambda: vault.get_totp_seed(str(uuid.uuid4())), VaultUnavailable)
        await failure(vault.login, VaultUnavailable)
        assert (await vault.health()).detail == "vault unreachable"


async def test_a_sealed_vault_is_vault_unavailable(fresh: Fresh) -> None:
    async with vault_at(fresh.server.addr, fresh.creds) as vault:
        await vault.login()
        as_root(fresh.server, "POST", "sys/seal")
        exc = await failure(lambda: vault.fingerprint(CANARY), VaultUnavailable)
        assert "sealed" in exc.detail and "fingerprinting a password" in exc.detail
        exc = await failure(vault.renew_token, VaultUnavailable)
        assert "renewing the service token" in exc.detail
        assert (await vault.health()).detail == "vault sealed"


@contextmanager
def silent_listener() -> Iterator[str]:
    """A port that takes connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


async def test_a_silent_vault_times_out_as_vault_unavailable() -> None:
    with silent_listener() as addr:
        async with vault_at(addr, token=CANARY, vault_timeout_seconds=0.3) as vault:
            exc = await failure(vault.public_keys, VaultUnavailable)
            assert "did not answer in time" in exc.detail


class _Proxy(BaseHTTPRequestHandler):
    """A misbehaving proxy: an HTML page with the status the path asks for."""

    def _answer(self) -> None:
        status = 502 if "/custodia-transit/sign/" in self.path else 200
        body = f"<html>proxy page {CANARY}</html>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def html_proxy() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_a_proxy_page_instead_of_vault_is_vault_unavailable() -> None:
    with html_proxy() as addr:
        async with vault_at(addr, token=CANARY) as vault:
            exc = await failure(vault.public_keys, VaultUnavailable)
            assert "not JSON" in exc.detail
            exc = await failure(lambda: vault.sign(b"checkpoint"), VaultUnavailable)
            assert "server error" in exc.detail
            assert (await vault.health()).detail == "vault answered unexpectedly"
