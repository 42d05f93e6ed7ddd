"""HTTP limits against a real ``custodia serve``: big heads, slow clients, idle and busy sockets.

The only time bounds are generous ones for "the server closed the connection":
the server's own time-outs are set to a second or two, the sockets wait up to 30 s.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, suppress

import pytest

from service.principal import SYSTEM
from service.settings import Settings
from service.tokens.usecases import issue_token
from tests.support.apps import Client, runtime_of
from tests.support.http_server import (
    MIB,
    Served,
    big_header_request,
    header_flood,
    read_answer,
    send_raw,
    serve,
    status_of,
    wait_ready,
)

GENEROUS = 30.0  # seconds a socket waits for the server to close it
MAX_CONNECTIONS = 40


@pytest.fixture(scope="module")
def roomy(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Default header limits, long time-outs, at most 40 connections."""
    log = tmp_path_factory.mktemp("roomy") / "server.log"
    with serve(
        settings,
        log,
        CUSTODIA_HTTP_HEADER_TIMEOUT_SECONDS="120",
        CUSTODIA_HTTP_BODY_TIMEOUT_SECONDS="120",
        CUSTODIA_HTTP_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
    ) as served:
        yield served


@pytest.fixture(scope="module")
def strict(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Time-outs of a second or two."""
    log = tmp_path_factory.mktemp("strict") / "server.log"
    with serve(
        settings,
        log,
        CUSTODIA_HTTP_HEADER_TIMEOUT_SECONDS="1.5",
        CUSTODIA_HTTP_BODY_TIMEOUT_SECONDS="1.5",
        CUSTODIA_HTTP_KEEP_ALIVE_SECONDS="1",
    ) as served:
        yield served


def connect(served: Served) -> socket.socket:
    return socket.create_connection(("127.0.0.1", served.port), timeout=GENEROUS)


def trickle_until_closed(sock: socket.socket, byte: bytes = b"a") -> bytes:
    """Send one byte every 0.2 s until the server answers or hangs up; what it sent."""
    deadline = time.monotonic() + GENEROUS
    while time.monotonic() < deadline:
        try:
            sock.sendall(byte)
        except (BrokenPipeError, ConnectionResetError):
            return read_answer(sock)
        readable, _, _ = select.select([sock], [], [], 0.2)
        if readable:
            return read_answer(sock)
    raise AssertionError(f"the server kept a trickling connection open for {GENEROUS} s")


# -- header size and count ---------------------------------------------------------------


def test_a_header_section_just_under_the_cap_is_served(roomy: Served) -> None:
    assert send_raw(roomy.port, big_header_request(15 * 1024)) == "200"


@pytest.mark.parametrize("size", [17 * 1024, 1 * MIB, 8 * MIB], ids=["17KB", "1MB", "8MB"])
def test_a_header_section_over_16kb_gets_431(roomy: Served, size: int) -> None:
    with connect(roomy) as sock:
        with suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(big_header_request(size))
        answer = read_answer(sock)
    assert status_of(answer) == "431", answer[:200]
    assert b"content-type: application/problem+json" in answer
    assert b"x-content-type-options: nosniff" in answer
    assert b'"status": 431' in answer


@pytest.mark.parametrize("lines", [101, 100_000])
def test_too_many_header_lines_get_431(roomy: Served, lines: int) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-N: 1\r\n" * lines + b"\r\n"
    assert send_raw(roomy.port, head) == "431"


def test_32_connections_with_8mb_of_headers_keep_memory_bounded(roomy: Served) -> None:
    # Warm up: the paths the flood takes, so that first-use allocations are not counted.
    assert send_raw(roomy.port, big_header_request(64 * 1024)) == "431"
    assert roomy.get("/healthz").status_code == 200

    flood = header_flood(roomy, connections=32, header_bytes=8 * MIB)

    print(
        f"\nRSS before {flood.before:.1f} MiB, during (max) {flood.during:.1f} MiB, "
        f"after {flood.after:.1f} MiB; outcomes {sorted(set(flood.outcomes))}"
    )
    assert set(flood.outcomes) <= {"431", "closed"}, flood.outcomes
    assert flood.outcomes.count("431") >= 1
    # Unbounded, every connection kept its 8 MiB (+294 MB in issue 12; see bench/README.md);
    # capped, one holds at most the cap plus one read (256 KiB): 32 of them, under 9 MiB.
    assert flood.during - flood.before < 24, flood
    assert flood.after - flood.before < 24, flood
    assert roomy.get("/healthz").status_code == 200


# -- concurrent connections ------------------------------------------------------------------


def test_connections_beyond_the_limit_get_503(roomy: Served) -> None:
    with ExitStack() as stack:
        for _ in range(MAX_CONNECTIONS):
            sock = stack.enter_context(connect(roomy))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # a head left unfinished
        assert send_raw(roomy.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") == "503"
    wait_ready(roomy)  # the held sockets are closed; the server serves again


# -- slow and idle clients ------------------------------------------------------------------


def test_a_connection_that_sends_nothing_is_closed(strict: Served) -> None:
    with connect(strict) as sock:
        assert read_answer(sock) == b""


def test_a_trickled_header_section_gets_408(strict: Served) -> None:
    with connect(strict) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        answer = trickle_until_closed(sock)
    assert status_of(answer) == "408", answer[:200]


async def test_a_trickled_body_gets_408(strict: Served, client: Client) -> None:
    issued = await issue_token(runtime_of(client), SYSTEM, role="admin", name="slow-body")
    head = (
        "POST /v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {issued.token}\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    with connect(strict) as sock:
        sock.sendall(head + b'{"role": "auditor", "name": "')
        answer = trickle_until_closed(sock)
    assert status_of(answer) == "408", answer[:200]


def test_an_idle_keep_alive_connection_is_closed(strict: Served) -> None:
    with connect(strict) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = read_answer(sock)  # returns once the server closes the idle connection
    assert status_of(answer) == "200", answer[:200]


def test_the_server_still_serves_after_all_that(roomy: Served, strict: Served) -> None:
    assert roomy.get("/healthz").status_code == 200
    assert strict.get("/healthz").status_code == 200
