"""The service as a real uvicorn process, on the test session's database and Vault."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from service.settings import Settings
from tests.support.apps import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServiceProcess:
    """``custodia serve`` (or ``script``, run with ``python -c``) in a subprocess."""

    def __init__(
        self, settings: Settings, log_path: Path, *, script: str | None = None, **env: str
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {
            **os.environ,
            "CUSTODIA_DATABASE_URL": settings.database_url,
            "CUSTODIA_VAULT_ADDR": settings.vault_addr,
            "CUSTODIA_VAULT_ROLE_ID": settings.vault_role_id or "",
            "CUSTODIA_VAULT_SECRET_ID": settings.vault_secret_id or "",
            "CUSTODIA_PORT": str(self.port),
            "CUSTODIA_LOG_LEVEL": "WARNING",
            **env,
        }
        command = ["-c", script] if script else ["-m", "service.cli", "serve"]
        # A file, not a pipe: an unread pipe fills up and stalls the server's event loop.
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, *command],
            cwd=ROOT,
            env=environ,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("service did not become ready")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no flush, no rollback from the process itself."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()
