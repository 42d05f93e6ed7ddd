"""A real ``custodia serve`` process, raw-socket clients, and its memory read from /proc.

Used by tests/test_http_limits.py and bench/http_limits.py.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from service.settings import Settings
from tests.support.apps import ROOT

MIB = 1024 * 1024


@dataclass(frozen=True)
class Served:
    """A running server: where it listens and its process id."""

    port: int
    pid: int

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(settings: Settings, log_path: Path, **env: str) -> Iterator[Served]:
    """Run ``custodia serve`` on the settings' database and Vault, ``env`` added."""
    port = free_port()
    environ = {
        **os.environ,
        "CUSTODIA_DATABASE_URL": settings.database_url,
        "CUSTODIA_VAULT_ADDR": settings.vault_addr,
        "CUSTODIA_VAULT_ROLE_ID": settings.vault_role_id or "",
        "CUSTODIA_VAULT_SECRET_ID": settings.vault_secret_id or "",
        "CUSTODIA_VAULT_TOKEN": settings.vault_token or "",
        "CUSTODIA_BACKGROUND_TASKS": "0",
        "CUSTODIA_DATABASE_POOL_SIZE": "2",
        "CUSTODIA_LOG_LEVEL": "WARNING",
        "CUSTODIA_PORT": str(port),
        **env,
    }
    # A file, not a pipe: an unread pipe fills up and stalls the server's event loop.
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve"],
            cwd=ROOT,
            env=environ,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            served = Served(port, proc.pid)
            wait_ready(served, proc)
            yield served
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_ready(served: Served, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Until /healthz answers 200 (a generous minute: the machine may be busy)."""
    for _ in range(600):
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"custodia serve exited with {proc.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if served.get("/healthz").status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("custodia serve did not become ready")


def rss_mib(pid: int) -> float:
    """The process's resident set size now, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def read_answer(sock: socket.socket) -> bytes:
    """What the server sends until it closes; b"" when it reset the connection first."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def status_of(answer: bytes) -> str:
    """The status code of a raw answer, or "closed" when the server said nothing."""
    return answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/1.1 ") else "closed"


def send_raw(port: int, payload: bytes, timeout: float = 60.0) -> str:
    """Send ``payload`` on a new connection; the answer's status, or how it ended.

    "held" when the server neither answered nor closed within ``timeout``.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            # Refused mid-send, the answer may still be there to read.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(payload)
            return status_of(read_answer(sock))
        except TimeoutError:
            return "held"


def big_header_request(header_bytes: int, *, finished: bool = True) -> bytes:
    """A GET whose one header is ``header_bytes`` long; unfinished, the head never ends."""
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * header_bytes + b"\r\n"
    return head + b"Connection: close\r\n\r\n" if finished else head


@dataclass(frozen=True)
class Flood:
    """RSS of the server before, at most during, and after the flood; how each sender ended."""

    before: float
    during: float
    after: float
    outcomes: list[str]


def header_flood(
    served: Served, connections: int = 32, header_bytes: int = 8 * MIB, hold: float = 60.0
) -> Flood:
    """``connections`` clients at once, each sending ``header_bytes`` of one header.

    The heads are left unfinished, so a server without a cap would keep every one
    of them, waiting for the rest, until the clients give up after ``hold`` seconds.
    """
    payload = big_header_request(header_bytes, finished=False)
    before = rss_mib(served.pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mib(served.pid))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(connections) as pool:
            outcomes = list(
                pool.map(lambda _: send_raw(served.port, payload, hold), range(connections))
            )
    finally:
        done.set()
        sampler.join()
    wait_ready(served)
    return Flood(before, peak[0], rss_mib(served.pid), outcomes)
