"""Idempotent OpenBao setup for Custodia through the HTTP API (httpx, not hvac).

hvac stays confined to the service's Vault adapter; this module only configures the
server with a root token: mounts, the audit signing key, the password fingerprint
key, policies, the checkout token role and the service's AppRole.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx

KV_MOUNT = "custodia-kv"
TRANSIT_MOUNT = "custodia-transit"
AUDIT_KEY = "custodia-audit"
AUDIT_KEY_TYPE = "ed25519"
FINGERPRINT_KEY = "custodia-fingerprint"
FINGERPRINT_KEY_TYPE = "aes256-gcm96"  # any HMAC-capable type; never exported
SERVICE_POLICY = "custodia-service"
CHECKOUT_POLICY = "custodia-checkout-read"
CHECKOUT_ROLE = "custodia-checkout"
CHECKOUT_MAX_TTL = "10m"
APPROLE_MOUNT = "approle"
SERVICE_ROLE = "custodia-service"


def installed_policies_dir() -> Path:
    """The ``vault_policies`` package installed with Custodia (the checkout's when editable)."""
    location = files("vault_policies")
    if not isinstance(location, Path):
        # OpenBao gets the policies' text from files; a zipped install cannot offer them.
        raise RuntimeError(f"the vault_policies package is not a directory on disk: {location}")
    return location


class BootstrapError(RuntimeError):
    """A bootstrap step failed; the message names the step and Vault's answer."""


@dataclass(frozen=True)
class AppRoleCredentials:
    """What the service needs to log in with AppRole."""

    role_id: str
    secret_id: str


class _Vault:
    """Thin JSON client over the Vault HTTP API that names the failing step."""

    def __init__(self, addr: str, token: str | None, timeout: float) -> None:
        headers = {"X-Vault-Token": token} if token else {}
        self._client = httpx.Client(
            base_url=addr.rstrip("/") + "/v1/", headers=headers, timeout=timeout
        )

    def __enter__(self) -> _Vault:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def call(
        self,
        step: str,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        missing_ok: bool = False,
    ) -> dict[str, Any] | None:
        """Send one request; None for 204 or (with missing_ok) 404, else raise on error."""
        try:
            response = self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise BootstrapError(f"vault bootstrap: {step}: cannot reach Vault: {exc}") from exc
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 400:
            raise BootstrapError(
                f"vault bootstrap: {step}: HTTP {response.status_code}: {_errors(response)}"
            )
        if response.status_code == 204 or not response.content:
            return None
        payload: dict[str, Any] = response.json()
        return payload


def _errors(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return response.text[:200]
    return "; ".join(str(e) for e in errors) or response.reason_phrase


def _data(payload: dict[str, Any] | None, step: str) -> dict[str, Any]:
    if not payload or not isinstance(payload.get("data"), dict):
        raise BootstrapError(f"vault bootstrap: {step}: response has no data")
    data: dict[str, Any] = payload["data"]
    return data


def _ensure_mounts(vault: _Vault) -> None:
    mounts = _data(vault.call("list secret engines", "GET", "sys/mounts"), "list secret engines")
    wanted: dict[str, dict[str, Any]] = {
        KV_MOUNT: {"type": "kv", "options": {"version": "2"}},
        TRANSIT_MOUNT: {"type": "transit"},
    }
    for name, spec in wanted.items():
        current = mounts.get(f"{name}/")
        if current is None:
            vault.call(f"mount {spec['type']} at {name}", "POST", f"sys/mounts/{name}", spec)
            continue
        # An existing mount of the wrong kind would make every later step misbehave.
        if current.get("type") != spec["type"]:
            raise BootstrapError(
                f"vault bootstrap: mount {name} exists with type {current.get('type')}, "
                f"expected {spec['type']}"
            )
        if name == KV_MOUNT and (current.get("options") or {}).get("version") != "2":
            raise BootstrapError(f"vault bootstrap: mount {name} is not KV version 2")


def _ensure_audit_key(vault: _Vault) -> None:
    path = f"{TRANSIT_MOUNT}/keys/{AUDIT_KEY}"
    found = vault.call(f"read transit key {AUDIT_KEY}", "GET", path, missing_ok=True)
    if found is None:
        vault.call(f"create transit key {AUDIT_KEY}", "POST", path, {"type": AUDIT_KEY_TYPE})
        return
    key_type = _data(found, f"read transit key {AUDIT_KEY}").get("type")
    if key_type != AUDIT_KEY_TYPE:
        raise BootstrapError(
            f"vault bootstrap: transit key {AUDIT_KEY} has type {key_type}, "
            f"expected {AUDIT_KEY_TYPE}"
        )


def _ensure_fingerprint_key(vault: _Vault) -> None:
    # Keyed fingerprints of passwords: compared without ever reading a password back.
    path = f"{TRANSIT_MOUNT}/keys/{FINGERPRINT_KEY}"
    found = vault.call(f"read transit key {FINGERPRINT_KEY}", "GET", path, missing_ok=True)
    if found is None:
        vault.call(
            f"create transit key {FINGERPRINT_KEY}",
            "POST",
            path,
            {"type": FINGERPRINT_KEY_TYPE, "exportable": False},
        )
        return
    key = _data(found, f"read transit key {FINGERPRINT_KEY}")
    if key.get("type") != FINGERPRINT_KEY_TYPE or key.get("exportable"):
        raise BootstrapError(
            f"vault bootstrap: transit key {FINGERPRINT_KEY} has type {key.get('type')} "
            f"(exportable: {key.get('exportable')}), expected non-exportable "
            f"{FINGERPRINT_KEY_TYPE}"
        )


def _write_policies(vault: _Vault, policies_dir: Path) -> list[str]:
    files = sorted(policies_dir.glob("*.hcl"))
    names = [f.stem for f in files]
    for required in (SERVICE_POLICY, CHECKOUT_POLICY):
        if required not in names:
            raise BootstrapError(f"vault bootstrap: {policies_dir}/{required}.hcl is missing")
    for policy_file in files:
        vault.call(
            f"write policy {policy_file.stem}",
            "PUT",
            f"sys/policies/acl/{policy_file.stem}",
            {"policy": policy_file.read_text(encoding="utf-8")},
        )
    return names


def _ensure_checkout_role(vault: _Vault) -> None:
    # Child tokens: children of the service token (revoked with it), single policy,
    # no default policy, not renewable, hard-capped lifetime. Service tokens (not
    # batch) because checkouts rely on num_uses.
    vault.call(
        f"write token role {CHECKOUT_ROLE}",
        "POST",
        f"auth/token/roles/{CHECKOUT_ROLE}",
        {
            "allowed_policies": [CHECKOUT_POLICY],
            "orphan": False,
            "renewable": False,
            "token_explicit_max_ttl": CHECKOUT_MAX_TTL,
            "token_no_default_policy": True,
            "token_type": "service",
        },
    )


def _ensure_approle(vault: _Vault) -> AppRoleCredentials:
    auths = _data(vault.call("list auth methods", "GET", "sys/auth"), "list auth methods")
    if f"{APPROLE_MOUNT}/" not in auths:
        vault.call("enable approle", "POST", f"sys/auth/{APPROLE_MOUNT}", {"type": "approle"})
    role = f"auth/{APPROLE_MOUNT}/role/{SERVICE_ROLE}"
    vault.call(
        f"write approle role {SERVICE_ROLE}",
        "POST",
        role,
        {
            "token_policies": [SERVICE_POLICY],
            "token_no_default_policy": False,
            "token_ttl": "1h",
            "token_max_ttl": "24h",
            "token_type": "service",
            "secret_id_ttl": 0,
            "secret_id_num_uses": 0,
        },
    )
    role_id = _data(vault.call("read role-id", "GET", f"{role}/role-id"), "read role-id")
    secret = _data(
        vault.call("create secret-id", "POST", f"{role}/secret-id", {}), "create secret-id"
    )
    return AppRoleCredentials(role_id=str(role_id["role_id"]), secret_id=str(secret["secret_id"]))


def bootstrap_vault(
    addr: str, root_token: str, policies_dir: Path, *, timeout: float = 10.0
) -> AppRoleCredentials:
    """Configure Vault for Custodia (safe to repeat) and return a fresh AppRole secret-id."""
    with _Vault(addr, root_token, timeout) as vault:
        _ensure_mounts(vault)
        _ensure_audit_key(vault)
        _ensure_fingerprint_key(vault)
        _write_policies(vault, policies_dir)
        _ensure_checkout_role(vault)
        return _ensure_approle(vault)


def approle_login(addr: str, creds: AppRoleCredentials, *, timeout: float = 10.0) -> str:
    """Log in with AppRole and return the client token."""
    with _Vault(addr, None, timeout) as vault:
        payload = vault.call(
            "approle login",
            "POST",
            f"auth/{APPROLE_MOUNT}/login",
            {"role_id": creds.role_id, "secret_id": creds.secret_id},
        )
    auth = (payload or {}).get("auth") or {}
    token = auth.get("client_token")
    if not isinstance(token, str):
        raise BootstrapError("vault bootstrap: approle login: response has no client token")
    return token
