"""Settings from ``CUSTODIA_*`` environment variables, validated once, at start.

Nothing here is read at import time: call :meth:`Settings.from_env`.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

# The longest checkout the issue admits; CUSTODIA_CHECKOUT_MAX_MINUTES may only lower it.
CHECKOUT_MINUTES_CAP = 480


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    """Every knob of the service. Defaults are the embedded local stack's."""

    database_url: str = "sqlite+aiosqlite:///.custodia/custodia.db"
    database_pool_size: int = 10
    # PostgreSQL: the longest a statement may run, and a lock wait may last (milliseconds).
    database_statement_timeout_ms: int = 30_000
    database_lock_timeout_ms: int = 10_000
    vault_addr: str = "http://127.0.0.1:8200"
    vault_token: str | None = None
    vault_role_id: str | None = None
    vault_secret_id: str | None = None
    vault_kv_mount: str = "custodia-kv"
    vault_transit_mount: str = "custodia-transit"
    vault_audit_key: str = "custodia-audit"
    vault_checkout_role: str = "custodia-checkout"
    vault_concurrency: int = 32
    vault_timeout_seconds: float = 5.0
    home: Path = Path(".custodia")
    host: str = "127.0.0.1"
    port: int = 8000
    vault_port: int = 8200
    log_level: str = "INFO"
    max_body_bytes: int = 64 * 1024
    # Refusals (401, 403, 423; 404 and 409 of a write) a token or address may earn in one
    # window before its requests get 429 (service.throttling).
    throttle_window_seconds: int = 60
    throttle_token_refusals: int = 30
    throttle_address_refusals: int = 60
    # Not limited by address (their tokens still are): the local stack, or a reverse
    # proxy that does not forward the client's address, where one address is everyone.
    throttle_exempt_addresses: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    http_max_header_bytes: int = 16 * 1024
    http_max_headers: int = 100
    http_header_timeout_seconds: float = 10.0
    http_body_timeout_seconds: float = 30.0
    http_keep_alive_seconds: int = 5
    http_max_connections: int = 200
    checkout_default_minutes: int = 30
    checkout_max_minutes: int = 480
    totp_max_failures: int = 5
    totp_lockout_minutes: int = 15
    checkpoint_every_events: int = 1000
    checkpoint_every_seconds: int = 300
    rotation_due_hours_departure: int = 24
    rotation_due_hours_unassigned: int = 24
    rotation_due_hours_handover: int = 24
    rotation_due_hours_incident: int = 1
    rotation_due_hours_manual: int = 24
    rotation_max_age_days: int = 90
    rotation_max_age_grace_days: int = 7
    rotation_scan_seconds: int = 3600
    webhook_urls: tuple[str, ...] = ()
    webhook_timeout_seconds: float = 5.0
    webhook_max_attempts: int = 6
    sujeto_obligado: str = "Sujeto obligado sin nombre"
    sujeto_obligado_siglas: str = ""
    security_contact: str = ""
    oic_contact: str = ""
    areas: tuple[str, ...] = ()
    directory_show_gestores: bool = False
    pdf_page_size: str = "A4"
    background_tasks: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``CUSTODIA_<FIELD>`` variables; fail fast on bad values."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = f"CUSTODIA_{f.name.upper()}"
            raw = env.get(key)
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(key, raw, f.default)
        if "home" in values and "database_url" not in values:
            values["database_url"] = f"sqlite+aiosqlite:///{values['home'] / 'custodia.db'}"
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Reject combinations that cannot work, naming the setting."""
        if not self.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise SettingsError(
                "CUSTODIA_DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
            )
        if not self.vault_addr.startswith(("http://", "https://")):
            raise SettingsError("CUSTODIA_VAULT_ADDR must be an http(s) URL")
        if bool(self.vault_role_id) != bool(self.vault_secret_id):
            raise SettingsError("CUSTODIA_VAULT_ROLE_ID and CUSTODIA_VAULT_SECRET_ID go together")
        for url in self.webhook_urls:
            if not url.startswith(("http://", "https://")) or len(url) > 2000:
                raise SettingsError("CUSTODIA_WEBHOOK_URLS must be comma-separated http(s) URLs")
        if self.pdf_page_size not in ("A4", "Letter"):
            raise SettingsError("CUSTODIA_PDF_PAGE_SIZE must be A4 or Letter")
        for name in (
            "vault_concurrency",
            "checkout_max_minutes",
            "checkpoint_every_events",
            "database_pool_size",
            "http_max_headers",
            "http_keep_alive_seconds",
            "http_max_connections",
            "database_statement_timeout_ms",
            "database_lock_timeout_ms",
        ):
            if getattr(self, name) < 1:
                raise SettingsError(f"CUSTODIA_{name.upper()} must be at least 1")
        for name in (
            "throttle_window_seconds",
            "throttle_token_refusals",
            "throttle_address_refusals",
        ):
            if getattr(self, name) < 1:
                raise SettingsError(f"CUSTODIA_{name.upper()} must be at least 1")
        for network in self.throttle_exempt_addresses:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise SettingsError(
                    "CUSTODIA_THROTTLE_EXEMPT_ADDRESSES must be comma-separated IP addresses "
                    "or networks (CIDR)"
                ) from None
        for name in ("http_header_timeout_seconds", "http_body_timeout_seconds"):
            if not getattr(self, name) > 0:
                raise SettingsError(f"CUSTODIA_{name.upper()} must be more than 0")
        # Below this even an ordinary browser request (cookies, user agent) would be refused.
        if self.http_max_header_bytes < 1024:
            raise SettingsError("CUSTODIA_HTTP_MAX_HEADER_BYTES must be at least 1024")
        # The API refuses longer requests before any setting is consulted.
        if self.checkout_max_minutes > CHECKOUT_MINUTES_CAP:
            raise SettingsError(
                f"CUSTODIA_CHECKOUT_MAX_MINUTES must be at most {CHECKOUT_MINUTES_CAP}"
            )
        if not 1 <= self.checkout_default_minutes <= self.checkout_max_minutes:
            raise SettingsError(
                "CUSTODIA_CHECKOUT_DEFAULT_MINUTES must be between 1 and "
                "CUSTODIA_CHECKOUT_MAX_MINUTES"
            )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _parse(key: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw)
        if isinstance(default, tuple):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
    except ValueError:
        raise SettingsError(f"{key} has an invalid value") from None
    return raw
