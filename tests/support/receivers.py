"""A loopback webhook receiver that records what it is sent."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

CLOSE = b"Content-Length: 0\r\nConnection: close\r\n\r\n"


@dataclass
class Receiver:
    """A loopback HTTP server that records POSTs; mode: ok, fail (500) or hang."""

    mode: str = "ok"
    requests: list[dict[str, Any]] = field(default_factory=list)
    connections: int = 0
    server: asyncio.Server | None = None
    url: str = ""
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> Receiver:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def stop(self) -> None:
        self.released.set()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append({"line": lines[0], "headers": headers, "body": body})
            if self.mode == "hang":
                await self.released.wait()
                return
            status = b"200 OK" if self.mode == "ok" else b"500 Internal Server Error"
            writer.write(b"HTTP/1.1 " + status + b"\r\n" + CLOSE)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
