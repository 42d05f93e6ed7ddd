"""uvicorn with limits: header size and count, slow heads and bodies, idle and busy connections.

uvicorn's httptools protocol caps none of the first three: llhttp buffers a header
section of any size (8 MB got a 200), and nothing times out a client that
trickles its head or its body, or one that connects and says nothing. The
protocol below adds those guards; uvicorn's own options cover the keep-alive idle
time and the number of concurrent connections.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from service.http.security_headers import API_POLICY
from service.settings import Settings

# After a refusal the server keeps reading (and dropping) what the client is still
# sending for this long, so that the client reads the answer instead of a reset.
LINGER_SECONDS = 5.0
_TITLES = {408: "Request timeout", 431: "Request header fields too large"}


@dataclass(frozen=True)
class HttpLimits:
    """What the protocol enforces on each connection."""

    max_header_bytes: int
    max_headers: int
    header_timeout: float
    body_timeout: float

    @classmethod
    def of(cls, settings: Settings) -> HttpLimits:
        return cls(
            settings.http_max_header_bytes,
            settings.http_max_headers,
            settings.http_header_timeout_seconds,
            settings.http_body_timeout_seconds,
        )


class _Refused(Exception):
    """Raised from a parser callback: the answer is sent, parsing must stop."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the header and time limits of :class:`HttpLimits`.

    A head (request line and headers) must arrive whole within ``header_timeout``
    of the connection opening or of its first byte, and stay under
    ``max_header_bytes`` and ``max_headers`` (else 431); a body must arrive whole
    within ``body_timeout`` of its head. Bytes are counted before the parser
    buffers them, so a connection never holds much more than the cap.
    """

    limits: ClassVar[HttpLimits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # between requests, or reading one's head
        self._head_started = False
        self._head_bytes = 0
        self._header_count = 0
        self._refused = False
        self._deadline: asyncio.TimerHandle | None = None

    # -- connection --------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A client that connects and sends nothing is held no longer than a slow head.
        self._arm(self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering: read and drop
        self._unset_keepalive_if_required()
        if self._in_head:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if not isinstance(exc.__context__, _Refused):
                self._bad_request()
            return
        except httptools.HttpParserError:
            self._bad_request()
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._in_head and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(431, "The request's header section is too large")

    # -- parser callbacks ----------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_started, self._header_count = True, 0
        if self._deadline is None:
            self._arm(self.limits.header_timeout)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refuse(431, "The request has too many header fields")
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_header_bytes:
            self._refuse(431, "The request's header section is too large")
            raise _Refused
        self._in_head, self._head_started, self._head_bytes = False, False, 0
        self._arm(self.limits.body_timeout)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head = True
        super().on_message_complete()

    # -- limits --------------------------------------------------------------------

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._deadline_passed)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_passed(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._in_head and not self._head_started:
            self.transport.close()  # nothing of a request arrived: just hang up
            return
        cycle = self.cycle if not self._in_head else None
        if cycle is not None:
            # The handler waiting on the body sees a disconnect, and its answer is dropped.
            cycle.disconnected = True
            cycle.message_event.set()
            if cycle.response_started:
                self.transport.close()
                return
        part = "header section" if self._in_head else "body"
        self._refuse(408, f"The request's {part} took too long to arrive")

    def _refuse(self, status: int, detail: str) -> None:
        """Answer ``status`` (problem+json) and close, lingering to drop what still comes."""
        self._refused = True
        self._disarm()
        self.logger.warning("Refused a request: %s", detail)
        body = json.dumps(
            {"type": "about:blank", "title": _TITLES[status], "status": status, "detail": detail}
        ).encode()
        head = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            (b"x-content-type-options", b"nosniff"),
            (b"content-security-policy", API_POLICY.encode()),
        ]
        lines = b"".join(name + b": " + value + b"\r\n" for name, value in head)
        self.transport.write(STATUS_LINE[status] + lines + b"\r\n" + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._deadline = self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _bad_request(self) -> None:
        message = "Invalid HTTP request received."
        self.logger.warning(message)
        self.send_400_response(message)


def guarded_protocol(limits: HttpLimits) -> type[asyncio.Protocol]:
    """A protocol class bound to ``limits`` (uvicorn builds one instance per connection)."""
    bound = type("CustodiaHttpProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})
    return cast(type[asyncio.Protocol], bound)


def server_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for ``app``: address, limits, and no logging config of its own.

    uvicorn's logging config would print its errors' tracebacks, messages included,
    past the redaction processor; with ``log_config=None`` they go through it.
    """
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=guarded_protocol(HttpLimits.of(settings)),
        timeout_keep_alive=settings.http_keep_alive_seconds,
        limit_concurrency=settings.http_max_connections,
        log_config=None,
        **options,
    )
