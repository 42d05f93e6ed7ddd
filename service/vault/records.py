"""What the service keeps in Vault's KV beside the credentials: TOTP seeds, the
webhook key and password fingerprint maps.

Built only on the adapter's three KV primitives, so it needs no hvac: the Vault
adapter (service.vault.client) inherits these methods and supplies the primitives.
"""

from __future__ import annotations

import base64
import secrets
from abc import ABC, abstractmethod
from typing import Any

from service.errors import VaultConflict
from service.vault.types import SecretVersion

WEBHOOK_KEY = "the webhook signing key"


def _seed_path(gestor_id: str, seed_id: str | None) -> str:
    """Where one enrolment's seed lives; None: the path of the seed kept before 0006."""
    if seed_id is None:
        return f"gestores/{gestor_id}/totp"
    return f"gestores/{gestor_id}/seeds/{seed_id}"


class KvRecords(ABC):
    """Seeds, the webhook key and fingerprint maps, as KV v2 secrets."""

    FINGERPRINTS_KEPT = 10  # only the current version's is ever compared

    @abstractmethod
    async def read_kv(
        self, path: str, action: str, subject: str
    ) -> tuple[dict[str, Any], SecretVersion] | None:
        """The latest version at ``path``, or None when it holds nothing.

        ``action`` and ``subject`` (the account, gestor or key, by the service's own
        names) are what an error says: never ``path``.
        """

    @abstractmethod
    async def write_kv(
        self, path: str, data: dict[str, Any], cas: int | None, action: str, subject: str
    ) -> SecretVersion:
        """A new version; with ``cas``, only over that version (0: none), else VaultConflict."""

    @abstractmethod
    async def destroy_kv(self, path: str, action: str, subject: str) -> None:
        """Every version and the metadata; a path already gone is fine."""

    # -- gestor TOTP seeds -----------------------------------------------
    # Each enrolment writes its own path, and SQL names the one in force
    # (gestores.totp_seed_id), so two enrolments never overwrite one seed.
    # ``seed_id`` None is the single path used before enrolments had their own.

    async def put_totp_seed(self, gestor_id: str, seed: str, seed_id: str | None = None) -> None:
        await self.write_kv(
            _seed_path(gestor_id, seed_id),
            {"seed": seed},
            None if seed_id is None else 0,  # a new enrolment's path holds nothing yet
            "storing a seed",
            f"gestor {gestor_id}",
        )

    async def get_totp_seed(self, gestor_id: str, seed_id: str | None = None) -> str | None:
        found = await self.read_kv(
            _seed_path(gestor_id, seed_id), "reading a seed", f"gestor {gestor_id}"
        )
        return None if found is None else str(found[0]["seed"])

    async def destroy_totp_seed(self, gestor_id: str, seed_id: str | None = None) -> None:
        await self.destroy_kv(
            _seed_path(gestor_id, seed_id), "destroying a seed", f"gestor {gestor_id}"
        )

    # -- service secrets ---------------------------------------------------

    async def webhook_secret(self) -> bytes:
        """The HMAC key for webhook signatures, made on first use."""
        found = await self.read_kv("service/webhook", "reading", WEBHOOK_KEY)
        if found is not None:
            return base64.b64decode(found[0]["hmac_key"])
        key = secrets.token_bytes(32)
        data = {"hmac_key": base64.b64encode(key).decode()}
        try:
            await self.write_kv("service/webhook", data, 0, "storing", WEBHOOK_KEY)
        except VaultConflict:
            return await self.webhook_secret()
        return key

    # -- password fingerprints ---------------------------------------------

    async def read_fingerprints(self, account_id: str) -> dict[int, str]:
        """The fingerprints kept for an account's credential versions, by version."""
        return (await self._fingerprint_map(account_id))[0]

    async def write_fingerprint(self, account_id: str, version: int, fp: str) -> None:
        """Add one version's fingerprint; check-and-set so concurrent writers both land."""
        for _ in range(5):
            current, cas = await self._fingerprint_map(account_id)
            kept = {**current, version: fp}
            newest = {str(n): kept[n] for n in sorted(kept)[-self.FINGERPRINTS_KEPT :]}
            try:
                await self.write_kv(
                    f"fingerprints/{account_id}",
                    newest,
                    cas,
                    "recording a fingerprint",
                    f"account {account_id}",
                )
                return
            except VaultConflict:
                continue
        raise VaultConflict(
            f"The fingerprints of account {account_id} kept changing; version {version}'s "
            "was not recorded"
        )

    async def destroy_fingerprints(self, account_id: str) -> None:
        """Drop every fingerprint of an account, with their history."""
        await self.destroy_kv(
            f"fingerprints/{account_id}", "destroying fingerprints", f"account {account_id}"
        )

    async def _fingerprint_map(self, account_id: str) -> tuple[dict[int, str], int]:
        """The map and its KV version (0: none yet), for check-and-set."""
        found = await self.read_kv(
            f"fingerprints/{account_id}", "reading fingerprints", f"account {account_id}"
        )
        if found is None:
            return {}, 0
        return {int(n): str(fp) for n, fp in found[0].items()}, found[1].version
