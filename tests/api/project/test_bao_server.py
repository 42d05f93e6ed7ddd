"""The test fixture's OpenBao start-up: a server is ours only if it takes our root token."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.bao_server import DevServer, wait_until_up


def test_a_server_with_another_token_on_the_port_is_not_taken_for_ours(bao: DevServer) -> None:
    # As if our bao were still starting on a port another session's server holds.
    starting = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(RuntimeError, match="another server answers"):
            wait_until_up(bao.addr, starting, "root-not-ours", timeout=5)
        wait_until_up(bao.addr, starting, bao.root_token, timeout=5)  # ours: accepted
    finally:
        starting.kill()
        starting.wait()
