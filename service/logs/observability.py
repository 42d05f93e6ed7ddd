"""JSON logs through the redaction processor, one log event per request, Prometheus metrics.

Every request gets a fresh id of the server's: it files the request's log event
and its audit events, and goes back in ``X-Request-ID``. A well-formed
``X-Request-ID`` sent by the client is only ever carried beside it, as
``client_request_id``, and echoed in ``X-Client-Request-ID``.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
import time
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from service.logs.redaction import REDACTED, redact, sanitize_record

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

__all__ = ["REDACTED", "Metrics", "configure_logging", "redact", "request_log_middleware"]


def configure_logging(level: str = "INFO") -> None:
    """structlog → JSON lines on stdout; stdlib logging goes through the same pipe."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(sanitize_record)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # uvicorn's access log would duplicate our request event, without redaction.
    logging.getLogger("uvicorn.access").disabled = True
    # fontTools reports every font subset at INFO: about twenty lines per PDF.
    logging.getLogger("fontTools").setLevel(max(logging.WARNING, root.level))


class Metrics:
    """Prometheus collectors of one app instance (not the global registry)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "custodia_http_requests_total",
            "HTTP requests by method, route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "custodia_http_request_duration_seconds",
            "HTTP request latency by method and route",
            ["method", "route"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


def request_log_middleware(metrics: Metrics) -> Any:
    """ASGI middleware factory: request id, one log event and metrics per request."""
    log = structlog.get_logger("custodia.http")

    def middleware(app: ASGIApp) -> ASGIApp:
        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            method: str = scope["method"]
            request_id, client_request_id = secrets.token_hex(8), _client_request_id(scope)
            state = scope.setdefault("state", {})
            state["request_id"] = request_id
            echoed = [(b"x-request-id", request_id.encode())]
            if client_request_id is not None:
                state["client_request_id"] = client_request_id
                echoed.append((b"x-client-request-id", client_request_id.encode()))
            status = 500
            started = time.perf_counter()

            async def send_wrapper(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    message["headers"] = [*message.get("headers", []), *echoed]
                await send(message)

            try:
                await app(scope, receive, send_wrapper)
            finally:
                elapsed = time.perf_counter() - started
                # The route's template only: the raw path, the query string and the body
                # can carry codes and tokens, so they are never logged.
                route = scope.get("path_template") or "unmatched"
                user = scope.get("user")
                metrics.requests.labels(method, route, str(status)).inc()
                metrics.latency.labels(method, route).observe(elapsed)
                log.info(
                    "request",
                    request_id=request_id,
                    client_request_id=client_request_id,
                    principal=getattr(user, "actor", None),
                    role=getattr(user, "role", None),
                    method=method,
                    route=route,
                    status=status,
                    latency_ms=round(elapsed * 1000, 2),
                )

        return handle

    return middleware


def _client_request_id(scope: Scope) -> str | None:
    """The client's ``X-Request-ID`` when it is a short plain token; anything else is dropped."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if REQUEST_ID.fullmatch(candidate) else None
    return None
