"""Initialise and unseal an OpenBao over HTTP, keeping the keys in a 0600 JSON file.

Shared by ``custodia dev`` (its own local server) and the compose bootstrap (the
``openbao`` container). Keeping unseal keys on disk next to the server is for local
and demonstration stacks only; production uses auto-unseal and no stored root token.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx


class LocalVaultError(RuntimeError):
    """OpenBao could not be started, initialised or unsealed; the message says why."""


def health_status(addr: str) -> int | None:
    """HTTP status of ``sys/health`` (200 active, 503 sealed, 501 uninitialised)."""
    try:
        return httpx.get(f"{addr}/v1/sys/health", timeout=2.0).status_code
    except httpx.HTTPError:
        return None


def wait_for_health(
    addr: str,
    ready: Callable[[int], bool],
    what: str,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Poll ``sys/health`` until ``ready(status)``; fail early if ``process`` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise LocalVaultError(f"OpenBao exited with code {process.returncode}")
        status = health_status(addr)
        if status is not None and ready(status):
            return
        time.sleep(0.1)
    raise LocalVaultError(f"OpenBao did not {what} within {timeout:.0f}s at {addr}")


def _request(addr: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    try:
        response = httpx.request(method, f"{addr}/v1/{path}", json=body, timeout=30.0)
    except httpx.HTTPError as exc:
        raise LocalVaultError(f"OpenBao {path}: {exc}") from exc
    if response.status_code >= 400:
        raise LocalVaultError(f"OpenBao {path}: HTTP {response.status_code}: {response.text}")
    return response.json()


def write_private(path: Path, text: str) -> None:
    """Atomically write ``text`` to ``path`` with mode 0600 from the first byte."""
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def init_and_unseal(
    addr: str,
    init_file: Path,
    label: str,
    *,
    timeout: float = 20.0,
    process: subprocess.Popen[bytes] | None = None,
) -> tuple[str, bool]:
    """Initialise if needed (1 share) saving ``init_file``, unseal; return (root token, first)."""
    status = _request(addr, "GET", "sys/seal-status")
    first = not status["initialized"]
    if first:
        result = _request(addr, "PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})
        payload = {
            "label": label,
            "local_only": True,
            "addr": addr,
            "unseal_keys_b64": result["keys_base64"],
            "root_token": result["root_token"],
        }
        write_private(init_file, json.dumps(payload, indent=2) + "\n")
    try:
        saved = json.loads(init_file.read_text(encoding="utf-8"))
        keys: list[str] = saved["unseal_keys_b64"]
        root_token: str = saved["root_token"]
    except (OSError, ValueError, KeyError) as exc:
        raise LocalVaultError(
            f"OpenBao at {addr} is initialised but {init_file} is missing or unreadable, "
            "so it cannot be unsealed; wipe its storage to start afresh"
        ) from exc
    if init_file.stat().st_mode & 0o077:
        init_file.chmod(0o600)
    if status["sealed"] or first:
        for key in keys:
            if not _request(addr, "PUT", "sys/unseal", {"key": key})["sealed"]:
                break
    # 200 from sys/health means initialised, unsealed and active.
    wait_for_health(addr, lambda code: code == 200, "become active after unseal", timeout, process)
    return root_token, first
