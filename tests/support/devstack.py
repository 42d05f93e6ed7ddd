"""`custodia dev` in a subprocess: start it until ready, stop it, and check what it left."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

DEV = (
    "import sys; from service.settings import Settings; "
    "from service.devstack.run import run_dev; sys.exit(run_dev(Settings.from_env()))"
)


def alive(pid: int) -> bool:
    """True while the PID exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def run_dev_until_ready(home: Path, port: int, vault_port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "CUSTODIA_HOME": str(home),
        "CUSTODIA_PORT": str(port),
        "CUSTODIA_VAULT_PORT": str(vault_port),
    }
    env.pop("CUSTODIA_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-c", DEV],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"custodia dev not ready: {process.communicate()}")


def stop_dev(process: subprocess.Popen[str], signum: int, home: Path) -> str:
    bao_pid = int((home / "openbao" / "bao.pid").read_text())
    process.send_signal(signum)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "OpenBao stopped" in err
    assert not alive(bao_pid)
    return out
