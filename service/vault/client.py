"""The Vault/OpenBao adapter: the only module that imports hvac.

hvac is synchronous, so every call runs in a worker thread bounded by a
capacity limiter, over a connection pool as large as the limiter. Every call
goes through ``Vault._call``, where any hvac or requests error becomes one of
the service's own errors (``_translate``); none ever quotes a secret, a token,
the request, Vault's answer or a Vault path (``VaultOp`` names the operation and
the account or gestor instead).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import hvac
import hvac.exceptions as hvac_errors
import requests
import structlog
from requests.adapters import HTTPAdapter

from service.errors import (
    DomainError,
    VaultConflict,
    VaultDenied,
    VaultMisconfigured,
    VaultUnavailable,
)
from service.settings import Settings
from service.vault.records import KvRecords
from service.vault.types import SecretVersion, VaultHealth, VaultOp, parse_time, secret_version

__all__ = ["CHECKOUT_TOKEN_TTL", "SecretVersion", "Vault", "VaultHealth", "VaultOp"]

T = TypeVar("T")
log = structlog.get_logger("custodia.vault")

CHECKOUT_TOKEN_TTL = "60s"  # noqa: S105 - a duration
# The settings that locate what each kind of call needs, named in setup errors.
KV_SETTINGS = "CUSTODIA_VAULT_KV_MOUNT"
AUDIT_KEY_SETTINGS = "CUSTODIA_VAULT_TRANSIT_MOUNT, CUSTODIA_VAULT_AUDIT_KEY"
TRANSIT_SETTINGS = "CUSTODIA_VAULT_TRANSIT_MOUNT"

# What a call into hvac can raise on Vault's behalf: every other exception is a bug.
_RAW = (hvac_errors.VaultError, requests.RequestException)


def _says(exc: Exception, text: str) -> bool:
    """Whether Vault's own error strings (not the URL or body) contain ``text``."""
    errors = getattr(exc, "errors", None) or []
    return text in " ".join(map(str, errors if isinstance(errors, list) else [errors])).lower()


def _expect_json(call: Callable[[], T]) -> T:
    """The call's answer; a 200 whose body is not JSON (say, a proxy's page) raises."""
    result = call()
    # hvac hands back the raw response when a 200 is not JSON; 204s are fine.
    if isinstance(result, requests.Response) and result.status_code == 200:
        raise requests.exceptions.InvalidJSONError("a 200 without JSON")
    return result


def _setup_hint(op: VaultOp) -> str:
    checked = op.settings or "the Vault settings"
    return f"check {checked} and run `custodia vault-bootstrap`"


def _translate(exc: Exception, op: VaultOp) -> DomainError:
    """The service's own error for a failed Vault call, worded from ``op`` alone."""
    if isinstance(exc, requests.Timeout):
        return VaultUnavailable(f"Vault did not answer in time ({op})")
    if isinstance(exc, requests.exceptions.InvalidJSONError):
        return VaultUnavailable(f"Vault's answer was not JSON; a proxy in the way? ({op})")
    if isinstance(exc, requests.RequestException):
        return VaultUnavailable(f"Vault is unreachable ({op})")
    if isinstance(exc, hvac_errors.VaultDown):
        return VaultUnavailable(f"Vault is sealed or on standby ({op})")
    if isinstance(exc, hvac_errors.VaultNotInitialized):
        return VaultUnavailable(f"Vault is not initialised ({op})")
    if isinstance(exc, hvac_errors.RateLimitExceeded):
        return VaultUnavailable(f"Vault is rate-limiting the service; retry later ({op})")
    if isinstance(exc, hvac_errors.Forbidden | hvac_errors.Unauthorized) or (
        op.auth and isinstance(exc, hvac_errors.InvalidRequest)
    ):
        settings = f", and {op.settings}" if op.settings else ""
        return VaultDenied(
            f"Vault denied {op.action} ({op.subject}); check the service's token, AppRole "
            f"and policy{settings}"
        )
    if isinstance(exc, hvac_errors.InvalidRequest) and _says(exc, "check-and-set"):
        return VaultConflict(f"Another version was written first; read and retry ({op})")
    # A 404 names a missing key or path ("no handler for route": its mount); transit
    # answers a missing key with a 400 "... key not found".
    if isinstance(exc, hvac_errors.InvalidPath) or (
        isinstance(exc, hvac_errors.InvalidRequest) and _says(exc, "key not found")
    ):
        return VaultMisconfigured(
            f"Vault lacks what {op.action} needs ({op.subject}); {_setup_hint(op)}"
        )
    if isinstance(
        exc,
        hvac_errors.InvalidRequest
        | hvac_errors.ParamValidationError
        | hvac_errors.UnsupportedOperation
        | hvac_errors.PreconditionFailed,
    ):
        return VaultMisconfigured(
            f"Vault rejected the request as invalid ({op}); {_setup_hint(op)}"
        )
    # InternalServerError, BadGateway, UnexpectedError and any later hvac error.
    return VaultUnavailable(f"Vault answered with a server error ({op})")


class Vault(KvRecords):
    """Async facade over the KV v2, transit and token APIs the service uses."""

    FINGERPRINT_KEY = "custodia-fingerprint"

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

    async def _call(self, op: VaultOp, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one hvac call in a worker thread; any failure leaves as a DomainError."""
        call = partial(_expect_json, partial(fn, *args, **kwargs))
        try:
            try:
                return await anyio.to_thread.run_sync(call, limiter=self._limiter)
            except hvac_errors.Forbidden:
                if op.auth or not self._settings.vault_role_id:
                    raise
            # A Forbidden under AppRole usually means the token expired while Vault
            # was away: log in again once and retry.
            await self.login()
            return await anyio.to_thread.run_sync(call, limiter=self._limiter)
        except _RAW as exc:
            error = _translate(exc, op)
            # Types only: Vault's text and hvac's message can quote what was sent.
            log.warning(
                "vault_call_failed",
                action=op.action,
                error_type=type(exc).__name__,
                outcome=type(error).__name__,
            )
            raise error from None

    async def _find(self, op: VaultOp, fn: Callable[..., T], **kwargs: Any) -> T | None:
        """As ``_call``, but a KV path that holds nothing is None, not an error."""

        def absent_is_none() -> T | None:
            try:
                return fn(**kwargs)
            except hvac_errors.InvalidPath as exc:
                if _says(exc, "no handler for route"):
                    raise  # the mount itself is missing: a setup error
                return None

        return await self._call(op, absent_is_none)

    async def login(self) -> int | None:
        """Log in with AppRole, when configured: the new token's TTL (a static token: None)."""
        if not self._settings.vault_role_id:
            return None
        resp = await self._call(
            VaultOp(
                "logging in",
                "the service's AppRole",
                "CUSTODIA_VAULT_ROLE_ID, CUSTODIA_VAULT_SECRET_ID",
                auth=True,
            ),
            self._client.auth.approle.login,
            role_id=self._settings.vault_role_id,
            secret_id=self._settings.vault_secret_id,
        )
        return int(resp["auth"]["lease_duration"])

    async def renew_token(self) -> int:
        """Renew the service token; return seconds until it should be renewed again."""

        def renew() -> dict[str, Any] | None:
            try:
                info: dict[str, Any] = self._client.auth.token.renew_self()
            except hvac_errors.InvalidRequest:
                # OpenBao's 400 "lease is not renewable": a root or non-renewable token.
                return None
            return info

        # An expired or revoked token is a Forbidden: _call logs in again and retries.
        info = await self._call(VaultOp("renewing the service token", "the service token"), renew)
        ttl = int(info["auth"]["lease_duration"]) if info else await self.login()
        return max(ttl // 2, 5) if ttl else 3600

    async def close(self) -> None:
        self._session.close()

    # -- health -----------------------------------------------------------

    async def health(self) -> VaultHealth:
        """Reachable, initialised and unsealed, or what is wrong."""

        def _read() -> dict[str, Any]:
            status = self._client.sys.read_health_status(method="GET", standby_ok=True)
            body: dict[str, Any] = status if isinstance(status, dict) else status.json()
            return body

        try:
            body = await anyio.to_thread.run_sync(_read, limiter=self._limiter)
        except (requests.ConnectionError, requests.Timeout):
            return VaultHealth(False, "vault unreachable")
        except _RAW:  # e.g. a proxy's HTML page where JSON was due
            return VaultHealth(False, "vault answered unexpectedly")
        if body.get("sealed"):
            return VaultHealth(False, "vault sealed")
        if not body.get("initialized", True):
            return VaultHealth(False, "vault not initialised")
        return VaultHealth(True, "ok")

    # -- KV v2 primitives (service.vault.records builds on them) ------------

    async def read_kv(
        self,
        path: str,
        action: str,
        subject: str,
        client: hvac.Client | None = None,
        version: int | None = None,
    ) -> tuple[dict[str, Any], SecretVersion] | None:
        """The latest version, or ``version``; None when absent, deleted or destroyed."""
        resp = await self._find(
            VaultOp(action, subject, KV_SETTINGS),
            (client or self._client).secrets.kv.v2.read_secret_version,
            path=path,
            version=version,
            mount_point=self._kv,
            raise_on_deleted_version=True,
        )
        if resp is None:
            return None
        return resp["data"]["data"], secret_version(resp["data"]["metadata"])

    async def write_kv(
        self, path: str, data: dict[str, Any], cas: int | None, action: str, subject: str
    ) -> SecretVersion:
        resp = await self._call(
            VaultOp(action, subject, KV_SETTINGS),
            self._client.secrets.kv.v2.create_or_update_secret,
            path=path,
            secret=data,
            cas=cas,
            mount_point=self._kv,
        )
        return secret_version(resp["data"])

    async def destroy_kv(self, path: str, action: str, subject: str) -> None:
        await self._find(
            VaultOp(action, subject, KV_SETTINGS),
            self._client.secrets.kv.v2.delete_metadata_and_all_versions,
            path=path,
            mount_point=self._kv,
        )

    # -- account credentials ---------------------------------------------

    async def write_credential(
        self, account_id: str, data: dict[str, Any], cas: int
    ) -> SecretVersion:
        """Write a new version with check-and-set: ``cas`` is the version we saw (0: none)."""
        return await self.write_kv(
            f"accounts/{account_id}", data, cas, "writing a credential", f"account {account_id}"
        )

    async def credential_versions(self, account_id: str) -> dict[int, SecretVersion]:
        """KV v2 metadata: every version's Vault ``created_time``."""
        resp = await self._find(
            VaultOp("reading credential versions", f"account {account_id}", KV_SETTINGS),
            self._client.secrets.kv.v2.read_secret_metadata,
            path=f"accounts/{account_id}",
            mount_point=self._kv,
        )
        if resp is None:
            return {}
        return {
            int(number): SecretVersion(int(number), parse_time(meta["created_time"]))
            for number, meta in resp["data"]["versions"].items()
        }

    async def checkout_read(
        self, account_id: str, metadata: dict[str, str], version: int | None = None
    ) -> tuple[dict[str, Any], SecretVersion] | None:
        """Read ``version`` (default: the latest) through a single-use child token.

        The token's metadata names the checkout, so OpenBao's own audit device
        records whom each read was for. None when that version is absent,
        deleted or destroyed.
        """
        role = self._settings.vault_checkout_role
        created = await self._call(
            VaultOp(
                "creating a checkout token",
                f"account {account_id}",
                "CUSTODIA_VAULT_CHECKOUT_ROLE",
            ),
            self._client.auth.token.create,
            role_name=role,
            meta=metadata,
            num_uses=1,
            ttl=CHECKOUT_TOKEN_TTL,
            renewable=False,
            display_name=f"checkout-{metadata.get('checkout_id', '')}",
        )
        child = self._new_client(created["auth"]["client_token"])
        return await self.read_kv(
            f"accounts/{account_id}",
            "reading for a checkout",
            f"account {account_id}",
            child,
            version=version,
        )

    async def destroy_credential(self, account_id: str) -> None:
        """Remove every version and the metadata: the account left custody."""
        # Fingerprints first: losing them early costs nothing but one comparison.
        await self.destroy_fingerprints(account_id)
        await self.destroy_kv(
            f"accounts/{account_id}", "destroying a credential", f"account {account_id}"
        )

    # -- transit signing ---------------------------------------------------

    async def sign(self, message: bytes) -> tuple[str, int]:
        """Ed25519-sign ``message``; return (base64 raw signature, key version)."""
        key = self._settings.vault_audit_key
        resp = await self._call(
            VaultOp("signing an audit checkpoint", "the audit signing key", AUDIT_KEY_SETTINGS),
            self._client.secrets.transit.sign_data,
            name=key,
            hash_input=base64.b64encode(message).decode(),
            mount_point=self._transit,
        )
        _, version, signature = resp["data"]["signature"].split(":", 2)
        return signature, int(version.removeprefix("v"))

    async def public_keys(self) -> dict[int, bytes]:
        """Raw 32-byte Ed25519 public keys of the audit key, by version."""
        key = self._settings.vault_audit_key
        resp = await self._call(
            VaultOp("reading the audit public keys", "the audit signing key", AUDIT_KEY_SETTINGS),
            self._client.secrets.transit.read_key,
            name=key,
            mount_point=self._transit,
        )
        return {
            int(number): base64.b64decode(entry["public_key"])
            for number, entry in resp["data"]["keys"].items()
        }

    # -- password fingerprints ---------------------------------------------

    async def fingerprint(self, value: str, key_version: int | None = None) -> str:
        """Transit HMAC-SHA256 of ``value``: ``vault:v<key version>:<base64>``."""
        resp = await self._call(
            VaultOp("fingerprinting a password", "the fingerprint key", TRANSIT_SETTINGS),
            self._client.secrets.transit.generate_hmac,
            name=self.FINGERPRINT_KEY,
            hash_input=base64.b64encode(value.encode()).decode(),
            key_version=key_version,
            mount_point=self._transit,
        )
        return str(resp["data"]["hmac"])

    # -- merging into a credential (appended: a write that never reads) ----

    async def patch_credential(
        self, account_id: str, changes: dict[str, Any], cas: int
    ) -> SecretVersion:
        """Merge ``changes`` into version ``cas`` as a new version, inside Vault.

        KV v2's PATCH (a JSON merge patch, RFC 7396; a None value removes its key)
        runs the merge server-side, so the service never reads the secret (hvac's
        ``kv.v2.patch`` reads it and writes it back: not used). Needs the ``patch``
        capability; check-and-set as ``write_credential``.
        """
        url = "/v1/{mount}/data/accounts/{account}"
        resp = await self._call(
            # Named by the account, not the KV path: errors never say where Vault keeps it.
            VaultOp("patching a credential", f"account {account_id}"),
            self._client.adapter.request,
            "PATCH",
            hvac.utils.format_url(url, mount=self._kv, account=account_id),
            headers={"Content-Type": "application/merge-patch+json"},
            json={"options": {"cas": cas}, "data": changes},
        )
        return secret_version(resp["data"])
