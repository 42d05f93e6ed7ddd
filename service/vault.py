"""The Vault/OpenBao adapter: the only module that imports hvac.

hvac is synchronous, so every call runs in a worker thread bounded by a
capacity limiter, over a connection pool as large as the limiter. hvac and
requests errors become the service's own errors; nothing here ever puts a
secret into an exception message.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import hvac
import hvac.exceptions as hvac_errors
import requests
import structlog
from requests.adapters import HTTPAdapter

from service.errors import VaultConflict, VaultDenied, VaultUnavailable
from service.settings import Settings

T = TypeVar("T")
log = structlog.get_logger("custodia.vault")

CHECKOUT_TOKEN_TTL = "60s"  # noqa: S105 - a duration


@dataclass(frozen=True)
class SecretVersion:
    """A KV v2 version as Vault recorded it."""

    version: int
    created_time: datetime


@dataclass(frozen=True)
class VaultHealth:
    ok: bool
    detail: str


class Vault:
    """Async facade over the KV v2, transit and token APIs the service uses."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._limiter = anyio.CapacityLimiter(settings.vault_concurrency)
        self._session = requests.Session()
        adapter = HTTPAdapter(
            pool_connections=4, pool_maxsize=settings.vault_concurrency + 4, max_retries=0
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._client = self._new_client(settings.vault_token)
        self._kv = settings.vault_kv_mount
        self._transit = settings.vault_transit_mount

    def _new_client(self, token: str | None) -> hvac.Client:
        return hvac.Client(
            url=self._settings.vault_addr,
            token=token,
            timeout=self._settings.vault_timeout_seconds,
            session=self._session,
        )

    # -- plumbing ---------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await anyio.to_thread.run_sync(
                partial(fn, *args, **kwargs), limiter=self._limiter
            )
        except hvac_errors.Forbidden:
            if not self._settings.vault_role_id:
                raise VaultDenied("Vault refused the service's token") from None
        except (requests.ConnectionError, requests.Timeout):
            raise VaultUnavailable("Vault is unreachable") from None
        except hvac_errors.VaultDown:
            raise VaultUnavailable("Vault is sealed") from None
        except (hvac_errors.InternalServerError, hvac_errors.BadGateway):
            raise VaultUnavailable("Vault answered with a server error") from None
        except hvac_errors.InvalidPath:
            raise
        except hvac_errors.InvalidRequest as exc:
            if "check-and-set" in str(exc):
                raise VaultConflict(
                    "Another credential version was written first; read and retry"
                ) from None
            raise VaultUnavailable("Vault rejected the request") from None
        except hvac_errors.VaultError:
            raise VaultUnavailable("Vault answered unexpectedly") from None
        # A Forbidden under AppRole usually means the token expired while Vault
        # was away: log in again once and retry.
        await self.login()
        try:
            return await anyio.to_thread.run_sync(
                partial(fn, *args, **kwargs), limiter=self._limiter
            )
        except hvac_errors.Forbidden:
            raise VaultDenied("Vault refused the service's token") from None

    async def login(self) -> None:
        """Authenticate with AppRole, when configured; a static token needs nothing."""
        if not self._settings.vault_role_id:
            return

        def _login() -> None:
            self._client.auth.approle.login(
                role_id=self._settings.vault_role_id, secret_id=self._settings.vault_secret_id
            )

        try:
            await anyio.to_thread.run_sync(_login, limiter=self._limiter)
        except (requests.ConnectionError, requests.Timeout, hvac_errors.VaultDown):
            raise VaultUnavailable("Vault is unreachable or sealed") from None
        except hvac_errors.VaultError:
            raise VaultDenied("AppRole login was refused") from None

    async def renew_token(self) -> int:
        """Renew the service token; return seconds until it should be renewed again."""
        try:
            info = await self._call(self._client.auth.token.renew_self)
            ttl = int(info["auth"]["lease_duration"])
        except (VaultDenied, hvac_errors.InvalidRequest):
            # Not renewable (a root or periodic token) or past max TTL: log in anew.
            await self.login()
            ttl = 3600
        return max(ttl // 2, 5) if ttl else 3600

    async def close(self) -> None:
        self._session.close()

    # -- health -----------------------------------------------------------

    async def health(self) -> VaultHealth:
        """Reachable, initialised and unsealed, or what is wrong."""

        def _read() -> Any:
            return self._client.sys.read_health_status(method="GET", standby_ok=True)

        try:
            status = await anyio.to_thread.run_sync(_read, limiter=self._limiter)
        except (requests.ConnectionError, requests.Timeout):
            return VaultHealth(False, "vault unreachable")
        body: dict[str, Any] = status if isinstance(status, dict) else status.json()
        if body.get("sealed"):
            return VaultHealth(False, "vault sealed")
        if not body.get("initialized", True):
            return VaultHealth(False, "vault not initialised")
        return VaultHealth(True, "ok")

    # -- account credentials ---------------------------------------------

    async def write_credential(
        self, account_id: str, data: dict[str, Any], cas: int
    ) -> SecretVersion:
        """Write a new version with check-and-set: ``cas`` is the version we saw (0: none)."""
        resp = await self._call(
            self._client.secrets.kv.v2.create_or_update_secret,
            path=f"accounts/{account_id}",
            secret=data,
            cas=cas,
            mount_point=self._kv,
        )
        return _version(resp["data"])

    async def credential_versions(self, account_id: str) -> dict[int, SecretVersion]:
        """KV v2 metadata: every version's Vault ``created_time``."""
        try:
            resp = await self._call(
                self._client.secrets.kv.v2.read_secret_metadata,
                path=f"accounts/{account_id}",
                mount_point=self._kv,
            )
        except hvac_errors.InvalidPath:
            return {}
        return {
            int(number): SecretVersion(int(number), _parse_time(meta["created_time"]))
            for number, meta in resp["data"]["versions"].items()
        }

    async def checkout_read(
        self, account_id: str, metadata: dict[str, str]
    ) -> tuple[dict[str, Any], SecretVersion] | None:
        """Read through a single-use child token whose metadata names the checkout.

        OpenBao's own audit device then records whom each read was for.
        """
        created = await self._call(
            self._client.auth.token.create,
            role_name=self._settings.vault_checkout_role,
            meta=metadata,
            num_uses=1,
            ttl=CHECKOUT_TOKEN_TTL,
            renewable=False,
            display_name=f"checkout-{metadata.get('checkout_id', '')}",
        )
        child = self._new_client(created["auth"]["client_token"])
        return await self._read_kv(child, f"accounts/{account_id}", None)

    async def destroy_credential(self, account_id: str) -> None:
        """Remove every version and the metadata: the account left custody."""
        # Fingerprints first: losing them early costs nothing but one comparison.
        await self.destroy_fingerprints(account_id)
        try:
            await self._call(
                self._client.secrets.kv.v2.delete_metadata_and_all_versions,
                path=f"accounts/{account_id}",
                mount_point=self._kv,
            )
        except hvac_errors.InvalidPath:
            return

    # -- gestor TOTP seeds -----------------------------------------------

    async def put_totp_seed(self, gestor_id: str, seed: str) -> None:
        await self._call(
            self._client.secrets.kv.v2.create_or_update_secret,
            path=f"gestores/{gestor_id}/totp",
            secret={"seed": seed},
            mount_point=self._kv,
        )

    async def get_totp_seed(self, gestor_id: str) -> str | None:
        found = await self._read_kv(self._client, f"gestores/{gestor_id}/totp", None)
        return None if found is None else str(found[0]["seed"])

    async def destroy_totp_seed(self, gestor_id: str) -> None:
        try:
            await self._call(
                self._client.secrets.kv.v2.delete_metadata_and_all_versions,
                path=f"gestores/{gestor_id}/totp",
                mount_point=self._kv,
            )
        except hvac_errors.InvalidPath:
            return

    # -- service secrets ---------------------------------------------------

    async def webhook_secret(self) -> bytes:
        """The HMAC key for webhook signatures, made on first use."""
        found = await self._read_kv(self._client, "service/webhook", None)
        if found is not None:
            return base64.b64decode(found[0]["hmac_key"])
        key = secrets.token_bytes(32)
        try:
            await self._call(
                self._client.secrets.kv.v2.create_or_update_secret,
                path="service/webhook",
                secret={"hmac_key": base64.b64encode(key).decode()},
                cas=0,
                mount_point=self._kv,
            )
        except VaultConflict:
            return await self.webhook_secret()
        return key

    # -- transit signing ---------------------------------------------------

    async def sign(self, message: bytes) -> tuple[str, int]:
        """Ed25519-sign ``message``; return (base64 raw signature, key version)."""
        resp = await self._call(
            self._client.secrets.transit.sign_data,
            name=self._settings.vault_audit_key,
            hash_input=base64.b64encode(message).decode(),
            mount_point=self._transit,
        )
        _, version, signature = resp["data"]["signature"].split(":", 2)
        return signature, int(version.removeprefix("v"))

    async def public_keys(self) -> dict[int, bytes]:
        """Raw 32-byte Ed25519 public keys of the audit key, by version."""
        resp = await self._call(
            self._client.secrets.transit.read_key,
            name=self._settings.vault_audit_key,
            mount_point=self._transit,
        )
        return {
            int(number): base64.b64decode(entry["public_key"])
            for number, entry in resp["data"]["keys"].items()
        }

    # -- internals ---------------------------------------------------------

    async def _read_kv(
        self, client: hvac.Client, path: str, version: int | None
    ) -> tuple[dict[str, Any], SecretVersion] | None:
        try:
            resp = await self._call(
                client.secrets.kv.v2.read_secret_version,
                path=path,
                version=version,
                mount_point=self._kv,
                raise_on_deleted_version=True,
            )
        except hvac_errors.InvalidPath:
            return None
        return resp["data"]["data"], _version(resp["data"]["metadata"])

    # -- password fingerprints ---------------------------------------------

    FINGERPRINT_KEY = "custodia-fingerprint"
    FINGERPRINTS_KEPT = 10  # only the current version's is ever compared

    async def fingerprint(self, value: str, key_version: int | None = None) -> str:
        """Transit HMAC-SHA256 of ``value``: ``vault:v<key version>:<base64>``."""
        resp = await self._call(
            self._client.secrets.transit.generate_hmac,
            name=self.FINGERPRINT_KEY,
            hash_input=base64.b64encode(value.encode()).decode(),
            key_version=key_version,
            mount_point=self._transit,
        )
        return str(resp["data"]["hmac"])

    async def read_fingerprints(self, account_id: str) -> dict[int, str]:
        """The fingerprints kept for an account's credential versions, by version."""
        return (await self._fingerprint_map(account_id))[0]

    async def write_fingerprint(self, account_id: str, version: int, fp: str) -> None:
        """Add one version's fingerprint; check-and-set so concurrent writers both land."""
        for _ in range(5):
            current, cas = await self._fingerprint_map(account_id)
            kept = {**current, version: fp}
            newest = sorted(kept)[-self.FINGERPRINTS_KEPT :]
            try:
                await self._call(
                    self._client.secrets.kv.v2.create_or_update_secret,
                    path=f"fingerprints/{account_id}",
                    secret={str(n): kept[n] for n in newest},
                    cas=cas,
                    mount_point=self._kv,
                )
                return
            except VaultConflict:
                continue
        raise VaultConflict("The fingerprint map kept changing; not recorded")

    async def destroy_fingerprints(self, account_id: str) -> None:
        """Drop every fingerprint of an account, with their history."""
        try:
            await self._call(
                self._client.secrets.kv.v2.delete_metadata_and_all_versions,
                path=f"fingerprints/{account_id}",
                mount_point=self._kv,
            )
        except hvac_errors.InvalidPath:
            return

    async def _fingerprint_map(self, account_id: str) -> tuple[dict[int, str], int]:
        """The map and its KV version (0: none yet), for check-and-set."""
        found = await self._read_kv(self._client, f"fingerprints/{account_id}", None)
        if found is None:
            return {}, 0
        return {int(n): str(fp) for n, fp in found[0].items()}, found[1].version


def _version(meta: dict[str, Any]) -> SecretVersion:
    return SecretVersion(int(meta["version"]), _parse_time(meta["created_time"]))


def _parse_time(value: str) -> datetime:
    """Vault's RFC 3339 with nanoseconds, cut to the microseconds Python keeps."""
    head, _, frac = value.rstrip("Z").partition(".")
    micro = (frac + "000000")[:6]
    return datetime.fromisoformat(f"{head}.{micro}").replace(tzinfo=UTC)
