"""Public keys for offline verification: base64 text, a key file, or the API's key JSON."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from pathlib import Path


class UsageError(Exception):
    """Bad arguments or an unreadable input: exit status 2."""


class KeyRing(Mapping[int, bytes]):
    """Public keys by version; a bare key, if given, serves every other version."""

    def __init__(self, versioned: dict[int, bytes], default: bytes | None = None) -> None:
        self._versioned, self._default = versioned, default

    def __getitem__(self, version: int) -> bytes:
        found = self._versioned.get(version, self._default)
        if found is None:
            raise KeyError(version)
        return found

    def __iter__(self) -> Iterator[int]:
        return iter(self._versioned)

    def __len__(self) -> int:
        return len(self._versioned)

    def merged(self, other: KeyRing) -> KeyRing:
        """Both rings' versioned keys; the later bare key wins."""
        default = other._default if other._default is not None else self._default
        return KeyRing({**self._versioned, **other._versioned}, default)


def _raw_key(text: str, source: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != 32:
        raise UsageError(f"{source}: not base64 of a raw 32-byte Ed25519 public key")
    return raw


def load_public_keys(spec: str) -> KeyRing:
    """Keys from base64 text, or a file with base64 or the API's public-key JSON."""
    path = Path(spec)
    if not path.is_file():
        return KeyRing({}, _raw_key(spec, "--public-key"))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read public key file {spec}: {exc}") from None
    if not text.lstrip().startswith("{"):
        return KeyRing({}, _raw_key(text, spec))
    try:
        doc = json.loads(text)
        algorithm, key_b64, version = doc["algorithm"], doc["public_key"], doc["key_version"]
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"{spec}: expected {{algorithm, public_key, key_version}}") from None
    if algorithm != "ed25519" or not isinstance(key_b64, str) or type(version) is not int:
        raise UsageError(f"{spec}: only ed25519 keys with an integer key_version")
    return KeyRing({version: _raw_key(key_b64, spec)})
