"""The OpenBao half of ``custodia dev`` on a real, persistent server: init, then reuse."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import stat
from pathlib import Path

import httpx

from service.devstack.bootstrap import AppRoleCredentials, approle_login
from service.devstack.compose import compose_bootstrap
from service.devstack.openbao import start_openbao, stop_openbao
from service.devstack.run import (
    LocalVault,
    default_policies_dir,
    local_stack_settings,
    start_local_vault,
)
from service.settings import Settings
from tests.bao_server import free_port_pair
from tests.support.devstack import alive, run_dev_until_ready, stop_dev


def stop_and_check(vault: LocalVault) -> None:
    pid = vault.server.pid
    stop_openbao(vault.server)
    assert not alive(pid)
    assert not vault.server.paths.pid_file.exists()


def test_local_vault_initialises_then_unseals_with_stored_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = dataclasses.replace(Settings(), home=home, vault_port=free_port_pair())

    first = start_local_vault(settings)
    try:
        assert first.first_start
        token = approle_login(first.addr, first.creds)
        written = httpx.post(
            f"{first.addr}/v1/custodia-kv/data/accounts/persisted",
            headers={"X-Vault-Token": token},
            json={"data": {"password": "kept"}},
        )
        assert written.status_code == 200, written.text
    finally:
        stop_and_check(first)

    init_file = home / "openbao" / "init.json"
    assert stat.S_IMODE(init_file.stat().st_mode) == 0o600
    saved = json.loads(init_file.read_text())
    assert saved["local_only"] is True
    assert "LOCAL DEVELOPMENT ONLY" in saved["label"]
    assert (home / "openbao" / "data").is_dir()
    config = (home / "openbao" / "config.hcl").read_text()
    assert 'storage "pebbledb"' in config
    assert f"127.0.0.1:{settings.vault_port + 1}" in config

    second = start_local_vault(settings)
    try:
        assert not second.first_start
        assert json.loads(init_file.read_text()) == saved
        health = httpx.get(f"{second.addr}/v1/sys/health").json()
        assert health["initialized"] and not health["sealed"]
        token = approle_login(second.addr, second.creds)
        # The service reads a credential only through a checkout's child token.
        child = httpx.post(
            f"{second.addr}/v1/auth/token/create/custodia-checkout",
            headers={"X-Vault-Token": token},
            json={"num_uses": 1, "ttl": "60s"},
        ).json()["auth"]["client_token"]
        read = httpx.get(
            f"{second.addr}/v1/custodia-kv/data/accounts/persisted",
            headers={"X-Vault-Token": child},
        )
        assert read.json()["data"]["data"] == {"password": "kept"}
        # A command run beside the stack (custodia demo seed) gets its own AppRole login.
        beside = local_stack_settings(settings)
        assert beside.vault_addr == second.addr
        assert beside.vault_role_id and beside.vault_secret_id
        assert beside.database_url.endswith(str(home.resolve() / "custodia.db"))
        creds = AppRoleCredentials(beside.vault_role_id, beside.vault_secret_id)
        assert approle_login(second.addr, creds)
        configured = dataclasses.replace(settings, vault_token="given")
        assert local_stack_settings(configured) is configured
    finally:
        stop_and_check(second)

    audit_lines = (home / "openbao" / "audit.log").read_text().splitlines()
    paths = {json.loads(line)["request"].get("path") for line in audit_lines}
    assert "custodia-kv/data/accounts/persisted" in paths
    assert "auth/approle/login" in paths
    assert stat.S_IMODE((home / "openbao" / "audit.log").stat().st_mode) == 0o600
    assert not os.path.exists(home / "openbao" / "bao.pid")


def test_custodia_dev_restart_keeps_data_and_token(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port, vault_port = free_port_pair(), free_port_pair()

    first = run_dev_until_ready(home, port, vault_port)
    out = stop_dev(first, signal.SIGTERM, home)
    token = (home / "admin-token").read_text().strip()
    assert token and token in out
    assert stat.S_IMODE((home / "admin-token").stat().st_mode) == 0o600
    assert (home / "custodia.db").is_file()

    second = run_dev_until_ready(home, port, vault_port)
    out = stop_dev(second, signal.SIGINT, home)
    assert token not in out
    assert (home / "admin-token").read_text().strip() == token


def test_compose_bootstrap_initialises_then_unseals_and_writes_env(tmp_path: Path) -> None:
    port = free_port_pair()
    init_file = tmp_path / "init" / "init.json"
    env_file = tmp_path / "approle" / "approle.env"
    for round_ in range(2):
        server = start_openbao(tmp_path / "bao", port)
        try:
            creds = compose_bootstrap(server.addr, default_policies_dir(), init_file, env_file)
            if round_ == 0:
                # Running it again on an unsealed server changes nothing but the secret-id.
                creds = compose_bootstrap(server.addr, default_policies_dir(), init_file, env_file)
            lines = env_file.read_text().splitlines()
            values = dict(line.split("=", 1) for line in lines if not line.startswith("#"))
            from_env = AppRoleCredentials(
                values["CUSTODIA_VAULT_ROLE_ID"], values["CUSTODIA_VAULT_SECRET_ID"]
            )
            assert from_env == creds
            assert approle_login(server.addr, from_env)
        finally:
            stop_openbao(server)
        assert stat.S_IMODE(init_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
