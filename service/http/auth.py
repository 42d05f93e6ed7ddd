"""Bearer-token authentication middleware and role guards."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Headers
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import Message, Receive, Scope, Send

from service.errors import Forbidden, Unauthenticated
from service.http.problems import send_problem
from service.principal import Caller, Principal
from service.runtime import Runtime
from service.tokens.repository import TokenRepository, token_digest

PUBLIC_PREFIXES = ("/healthz", "/readyz", "/metrics", "/schema", "/v1/public/")
PUBLIC_PATHS = [f"^{prefix}" for prefix in PUBLIC_PREFIXES]


class BearerTokenMiddleware(AbstractAuthenticationMiddleware):
    """Resolve ``Authorization: Bearer`` to a principal; 401 when absent or dead."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await super().__call__(scope, receive, tracked)
        except Exception as exc:
            # A refusal (401) or a database failure while checking the token: answered
            # here, through the request log's send, so it is logged with its real
            # status and carries X-Request-ID. Later errors have their own handlers.
            if started:
                raise
            await send_problem(scope, receive, send, exc)

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        token = bearer_token(connection.scope)
        if token is None:
            raise Unauthenticated("Send Authorization: Bearer <token>")
        principal = await live_principal(connection.app.state.runtime, token)
        if principal is None:
            raise Unauthenticated("The token is unknown, revoked or belongs to a departed gestor")
        return AuthenticationResult(user=principal, auth=None)


def bearer_token(scope: Scope) -> str | None:
    """The token of the request's ``Authorization: Bearer`` header, if it has one."""
    header = Headers.from_scope(scope).get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def live_principal(rt: Runtime, token: str) -> Principal | None:
    """Whom ``token`` stands for now, or None when it is unknown, revoked or departed."""
    # Every request reads the token afresh: a revocation counts at once. The
    # read is short and its connection goes back to the pool before the
    # handler runs: no request holds one across its own work.
    async with rt.reader() as reader:
        return await TokenRepository(reader).live_principal(token_digest(token), rt.clock.now())


def allow(*roles: str) -> Any:
    """Guard: only these roles may call the handler."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = connection.scope.get("user")
        if not isinstance(principal, Principal) or principal.role not in roles:
            raise Forbidden(f"This action needs the role {' or '.join(roles)}")

    return guard


def caller_of(request: Request[Any, Any, Any]) -> Caller:
    """Provider: the caller, with request id and client address for the audit trail."""
    principal = request.scope.get("user")
    return caller_in(request.scope, principal if isinstance(principal, Principal) else None)


def caller_in(scope: Scope, principal: Principal | None) -> Caller:
    """``principal`` calling through the request of ``scope``: its ids and client address."""
    client = scope.get("client")
    state = scope.get("state", {})
    return Caller(
        principal=principal,
        request_id=state.get("request_id"),
        ip=client[0] if client else None,
        client_request_id=state.get("client_request_id"),
    )


def runtime_of(request: Request[Any, Any, Any]) -> Runtime:
    """Provider: the app's runtime."""
    runtime: Runtime = request.app.state.runtime
    return runtime


# Handlers declare ``rt: Rt`` and ``caller: CallerDep``; the app provides both.
Rt = NamedDependency[Runtime]
CallerDep = NamedDependency[Caller]
DEPENDENCIES = {
    "rt": Provide(runtime_of, sync_to_thread=False),
    "caller": Provide(caller_of, sync_to_thread=False),
}
