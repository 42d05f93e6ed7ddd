"""Bootstrap a real OpenBao dev server and prove the service policy is least privilege."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from service.devstack.bootstrap import (
    AppRoleCredentials,
    BootstrapError,
    approle_login,
    bootstrap_vault,
)
from tests.bao_server import DevServer, start_dev_server, stop
from tests.support.apps import ROOT

POLICIES = ROOT / "vault_policies"


@pytest.fixture(scope="module")
def fresh_bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    server = start_dev_server(tmp_path_factory.mktemp("bao"))
    yield server
    stop(server)
    assert server.process.poll() is not None


@pytest.fixture(scope="module")
def creds(fresh_bao: DevServer) -> AppRoleCredentials:
    first = bootstrap_vault(fresh_bao.addr, fresh_bao.root_token, POLICIES)
    second = bootstrap_vault(fresh_bao.addr, fresh_bao.root_token, POLICIES)
    assert first.role_id == second.role_id
    return second


def client(fresh_bao: DevServer, token: str) -> httpx.Client:
    return httpx.Client(base_url=f"{fresh_bao.addr}/v1/", headers={"X-Vault-Token": token})


@pytest.fixture(scope="module")
def service(fresh_bao: DevServer, creds: AppRoleCredentials) -> Iterator[httpx.Client]:
    with client(fresh_bao, approle_login(fresh_bao.addr, creds)) as c:
        yield c


@pytest.fixture(scope="module")
def root(fresh_bao: DevServer, creds: AppRoleCredentials) -> Iterator[httpx.Client]:
    with client(fresh_bao, fresh_bao.root_token) as c:
        yield c


def data(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()["data"]
    return payload


def test_bootstrap_is_idempotent_and_configures_vault(root: httpx.Client) -> None:
    mounts = data(root.get("sys/mounts"))
    assert mounts["custodia-kv/"]["type"] == "kv"
    assert mounts["custodia-kv/"]["options"]["version"] == "2"
    assert mounts["custodia-transit/"]["type"] == "transit"
    assert data(root.get("custodia-transit/keys/custodia-audit"))["type"] == "ed25519"
    fingerprint_key = data(root.get("custodia-transit/keys/custodia-fingerprint"))
    assert fingerprint_key["type"] == "aes256-gcm96"
    assert fingerprint_key["exportable"] is False
    role = data(root.get("auth/token/roles/custodia-checkout"))
    assert role["allowed_policies"] == ["custodia-checkout-read"]
    assert role["orphan"] is False
    assert role["renewable"] is False
    assert role["token_explicit_max_ttl"] == 600
    approle = data(root.get("auth/approle/role/custodia-service"))
    assert approle["token_policies"] == ["custodia-service"]
    assert approle["token_ttl"] == 3600
    assert approle["token_max_ttl"] == 86400
    assert approle["secret_id_ttl"] == 0
    assert "custodia-service" in data(root.request("LIST", "sys/policies/acl"))["keys"]


def test_bootstrap_failure_names_the_step(fresh_bao: DevServer) -> None:
    with pytest.raises(BootstrapError, match="list secret engines: HTTP 403"):
        bootstrap_vault(fresh_bao.addr, "not-a-token", POLICIES)


def test_service_token_carries_only_its_policy(service: httpx.Client) -> None:
    me = data(service.get("auth/token/lookup-self"))
    assert sorted(me["policies"]) == ["custodia-service", "default"]
    renewed = service.post("auth/token/renew-self", json={})
    assert renewed.status_code == 200, renewed.text


def test_service_writes_credentials_but_cannot_read_them(service: httpx.Client) -> None:
    """A password leaves Vault only through a checkout's child token (tests below)."""
    written = service.post("custodia-kv/data/accounts/y", json={"data": {"password": "s3cret"}})
    assert written.status_code == 200, written.text
    again = service.post(
        "custodia-kv/data/accounts/y", json={"options": {"cas": 1}, "data": {"password": "n3w"}}
    )
    assert again.status_code == 200, again.text
    assert service.get("custodia-kv/data/accounts/y").status_code == 403
    assert data(service.get("custodia-kv/metadata/accounts/y"))["current_version"] == 2
    destroyed = service.post("custodia-kv/destroy/accounts/y", json={"versions": [1, 2]})
    assert destroyed.status_code == 204, destroyed.text
    # The version the child-token tests below read.
    service.post("custodia-kv/data/accounts/x", json={"data": {"password": "n3w"}})


def test_service_manages_gestor_seeds_and_service_secrets(service: httpx.Client) -> None:
    assert service.post("custodia-kv/data/gestores/g1", json={"data": {"seed": "A"}}).is_success
    assert data(service.get("custodia-kv/data/gestores/g1"))["data"] == {"seed": "A"}
    assert service.delete("custodia-kv/metadata/gestores/g1").status_code == 204
    assert service.post("custodia-kv/data/service/webhook", json={"data": {"k": "v"}}).is_success
    assert data(service.get("custodia-kv/data/service/webhook"))["data"] == {"k": "v"}


def test_service_keeps_password_fingerprints(service: httpx.Client) -> None:
    one = base64.b64encode(b"s3cret").decode()
    first = data(service.post("custodia-transit/hmac/custodia-fingerprint", json={"input": one}))
    again = data(service.post("custodia-transit/hmac/custodia-fingerprint", json={"input": one}))
    assert first["hmac"].startswith("vault:v1:") and first["hmac"] == again["hmac"]
    fps = {"1": first["hmac"]}
    assert service.post("custodia-kv/data/fingerprints/x", json={"data": fps}).is_success
    assert data(service.get("custodia-kv/data/fingerprints/x"))["data"] == fps
    assert data(service.get("custodia-kv/metadata/fingerprints/x"))["current_version"] == 1
    assert service.delete("custodia-kv/metadata/fingerprints/x").status_code == 204


def test_service_signs_and_the_public_key_verifies(service: httpx.Client) -> None:
    message = b"audit event 1"
    signed = data(
        service.post(
            "custodia-transit/sign/custodia-audit",
            json={"input": base64.b64encode(message).decode()},
        )
    )
    signature = base64.b64decode(signed["signature"].split(":")[2])
    key = data(service.get("custodia-transit/keys/custodia-audit"))
    public = base64.b64decode(key["keys"]["1"]["public_key"])
    Ed25519PublicKey.from_public_bytes(public).verify(signature, message)


def checkout(service: httpx.Client, **extra: Any) -> httpx.Response:
    body = {"meta": {"gestor": "g1", "account": "x"}, "num_uses": 1, "ttl": "5m", **extra}
    return service.post("auth/token/create/custodia-checkout", json=body)


def test_checkout_child_token_reads_once(
    fresh_bao: DevServer, service: httpx.Client, root: httpx.Client
) -> None:
    created = checkout(service)
    assert created.status_code == 200, created.text
    auth = created.json()["auth"]
    assert auth["policies"] == ["custodia-checkout-read"]
    assert auth["metadata"] == {"gestor": "g1", "account": "x"}
    looked = data(root.post("auth/token/lookup-accessor", json={"accessor": auth["accessor"]}))
    assert looked["num_uses"] == 1
    assert 0 < looked["ttl"] <= 600
    with client(fresh_bao, auth["client_token"]) as child:
        assert data(child.get("custodia-kv/data/accounts/x"))["data"] == {"password": "n3w"}
        assert child.get("custodia-kv/data/accounts/x").status_code == 403


def test_checkout_child_cannot_read_elsewhere(fresh_bao: DevServer, service: httpx.Client) -> None:
    token = checkout(service).json()["auth"]["client_token"]
    with client(fresh_bao, token) as child:
        assert child.get("custodia-kv/data/service/webhook").status_code == 403


def test_checkout_role_refuses_other_policies(service: httpx.Client) -> None:
    assert checkout(service, policies=["custodia-service"]).status_code in (400, 403)
    assert checkout(service, ttl="48h").json()["auth"]["lease_duration"] <= 600


DENIED: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "sys/mounts/evil", {"type": "kv"}),
    ("DELETE", "sys/mounts/custodia-kv", None),
    ("POST", "sys/mounts/custodia-kv/tune", {"default_lease_ttl": "1h"}),
    ("LIST", "sys/policies/acl", None),
    ("GET", "sys/policies/acl/custodia-service", None),
    ("PUT", "sys/policies/acl/custodia-service", {"policy": 'path "*" {}'}),
    ("GET", "sys/audit", None),
    ("POST", "sys/audit/other", {"type": "file"}),
    ("POST", "sys/seal", {}),
    ("POST", "custodia-kv/config", {"max_versions": 1}),
    ("POST", "custodia-kv/data/other", {"data": {"a": "b"}}),
    ("GET", "custodia-kv/data/other", None),
    ("DELETE", "custodia-kv/data/accounts/x", None),
    ("POST", "custodia-kv/delete/accounts/x", {"versions": [1]}),
    ("POST", "custodia-kv/metadata/accounts/x", {"max_versions": 1}),
    ("DELETE", "custodia-kv/data/service/webhook", None),
    ("POST", "secret/data/x", {"data": {"a": "b"}}),
    ("DELETE", "custodia-transit/keys/custodia-audit", None),
    ("POST", "custodia-transit/keys/custodia-audit/config", {"deletion_allowed": True}),
    ("POST", "custodia-transit/keys/custodia-audit/rotate", {}),
    ("GET", "custodia-transit/export/signing-key/custodia-audit", None),
    ("POST", "custodia-transit/keys/other", {"type": "ed25519"}),
    ("GET", "custodia-transit/keys/custodia-fingerprint", None),
    ("DELETE", "custodia-transit/keys/custodia-fingerprint", None),
    ("POST", "custodia-transit/keys/custodia-fingerprint/config", {"exportable": True}),
    ("POST", "custodia-transit/keys/custodia-fingerprint/rotate", {}),
    ("GET", "custodia-transit/export/hmac-key/custodia-fingerprint", None),
    ("POST", "custodia-transit/encrypt/custodia-fingerprint", {"plaintext": "YQ=="}),
    ("POST", "custodia-transit/verify/custodia-fingerprint", {"input": "YQ==", "hmac": "x"}),
    ("POST", "custodia-transit/hmac/custodia-audit", {"input": "YQ=="}),
    ("POST", "custodia-transit/hmac/other", {"input": "YQ=="}),
    ("POST", "custodia-kv/metadata/fingerprints/x", {"max_versions": 1}),
    ("DELETE", "custodia-kv/data/fingerprints/x", None),
    ("POST", "custodia-kv/destroy/fingerprints/x", {"versions": [1]}),
    ("POST", "custodia-transit/sign/other", {"input": "YQ=="}),
    ("POST", "custodia-transit/encrypt/custodia-audit", {"plaintext": "YQ=="}),
    ("POST", "auth/approle/role/custodia-service", {"token_policies": ["root"]}),
    ("GET", "auth/approle/role/custodia-service/role-id", None),
    ("POST", "auth/approle/role/custodia-service/secret-id", {}),
    ("POST", "auth/approle/role/other", {"token_policies": ["default"]}),
    ("POST", "auth/token/create", {"policies": ["custodia-service"]}),
    ("POST", "auth/token/create-orphan", {}),
    ("POST", "auth/token/roles/custodia-checkout", {"allowed_policies": ["root"]}),
    ("POST", "auth/token/lookup", {"token": "x"}),
    ("POST", "sys/auth/userpass", {"type": "userpass"}),
]


@pytest.mark.parametrize(("method", "path", "body"), DENIED, ids=[f"{m} {p}" for m, p, _ in DENIED])
def test_service_is_denied_outside_its_paths(
    service: httpx.Client, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = service.request(method, path, json=body)
    assert response.status_code == 403, response.text


def test_audit_device_records_service_requests(fresh_bao: DevServer, service: httpx.Client) -> None:
    service.get("custodia-kv/data/accounts/x")
    lines = fresh_bao.audit_log_path.read_text(encoding="utf-8").splitlines()
    paths = {json.loads(line)["request"].get("path") for line in lines}
    assert "custodia-kv/data/accounts/x" in paths
