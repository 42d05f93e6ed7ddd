"""ASGI middleware: 429 for throttled tokens and addresses, and the count of refusals.

It sits outside authentication, so a throttled address gets 429 without its
token being looked up (a token guesser learns nothing more), and it sees every
answer, the 401s of authentication included. Public paths are neither counted
nor throttled: they refuse nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from litestar import Litestar, Request
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.http.auth import PUBLIC_PREFIXES, bearer_token, caller_in, live_principal
from service.http.problems import errors, problem
from service.principal import Caller, Principal
from service.runtime import Runtime
from service.throttling.policy import (
    ThrottleKey,
    address_key,
    client_address,
    is_exempt,
    is_refusal,
    token_key,
)
from service.throttling.usecases import RefusalThrottle, Throttled
from service.tokens.repository import token_digest

log = structlog.get_logger("custodia.throttling")


def throttle_refusals(rt: Runtime) -> Callable[[ASGIApp], ASGIApp]:
    """Middleware factory: one :class:`RefusalThrottle` for the app instance."""
    throttle = RefusalThrottle(rt)

    def middleware(app: ASGIApp) -> ASGIApp:
        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP or scope["path"].startswith(PUBLIC_PREFIXES):
                await app(scope, receive, send)
                return
            token = bearer_token(scope)
            keys = _keys(scope, token, rt.settings.throttle_exempt_addresses)
            throttled = await _check(throttle, keys)
            if throttled is not None:
                await _summarise(throttle, throttled, scope, token)
                await _too_many(scope, receive, send, throttled)
                return
            await app(scope, receive, _counting(throttle, scope, keys, send))

        return handle

    return middleware


def _keys(scope: Scope, token: str | None, exempt: tuple[str, ...]) -> list[ThrottleKey]:
    keys = []
    client = scope.get("client")
    if client and not is_exempt(client[0], exempt):
        keys.append(address_key(client_address(client[0])))
    if token is not None:
        keys.append(token_key(token_digest(token)))
    return keys


async def _check(throttle: RefusalThrottle, keys: list[ThrottleKey]) -> Throttled | None:
    # A throttle that cannot reach the database lets the request through: the
    # request then meets the same database and is answered for it.
    try:
        return await throttle.check(keys, throttle.rt.clock.now())
    except Exception as exc:
        log.warning("throttle_check_failed", error_type=type(exc).__name__, exc_info=exc)
        return None


async def _summarise(
    throttle: RefusalThrottle, throttled: Throttled, scope: Scope, token: str | None
) -> None:
    async def caller() -> Caller:
        # Once per key and window: the event names whom the token stands for.
        principal = None if token is None else await live_principal(throttle.rt, token)
        return caller_in(scope, principal)

    try:
        await throttle.summarise(throttled, caller)
    except Exception as exc:  # the 429 stands; the next throttled request tries again
        log.warning("throttle_summary_failed", error_type=type(exc).__name__, exc_info=exc)


def _counting(throttle: RefusalThrottle, scope: Scope, keys: list[ThrottleKey], send: Send) -> Send:
    """``send``, counting a refusal before its answer leaves (so a client's next try sees it)."""

    method = str(scope.get("method", "GET"))

    async def counting_send(message: Message) -> None:
        if message["type"] == "http.response.start" and is_refusal(method, message["status"]):
            # A token counts only once it authenticated: a guessed token is not a
            # key worth a row, and its address is counted anyway.
            user = scope.get("user")
            counted = [k for k in keys if k.kind == "address" or isinstance(user, Principal)]
            try:
                await throttle.count(counted, throttle.rt.clock.now())
            except Exception as exc:  # never turn a refusal into an error of its own
                log.warning("throttle_count_failed", error_type=type(exc).__name__, exc_info=exc)
        await send(message)

    return counting_send


async def _too_many(scope: Scope, receive: Receive, send: Send, throttled: Throttled) -> None:
    whose = " and ".join(sorted({f"this {k.kind}" for k in throttled.keys}))
    response = problem(
        429,
        "Too many requests",
        f"Too many refused requests from {whose}; retry after {throttled.retry_after} s",
        {"Retry-After": str(throttled.retry_after)},
        instance=scope["path"],
    )
    request: Request[Any, Any, Any] = Request(scope, receive)
    await response.to_asgi_response(None, request)(scope, receive, send)


def document_throttling(app: Litestar) -> None:
    """Add 429 to every operation the middleware guards (all but the public paths)."""
    for route in app.routes:
        if route.path.startswith(PUBLIC_PREFIXES):
            continue
        for handler in getattr(route, "route_handlers", []):
            handler.responses = {**(handler.responses or {}), **errors(429)}
