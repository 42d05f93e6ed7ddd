"""The one place where errors become RFC 9457 problem details.

A response never carries a stack trace or an exception's own message unless
that message was written for the caller (DomainError.detail).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import msgspec
import structlog
from litestar import Litestar, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ExceptionHandlersMap, Receive, Scope, Send
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from service.errors import DatabaseUnavailable, DomainError, InvalidInput, Locked

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("custodia.errors")


def problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response[dict[str, Any]]:
    """Build a problem+json response."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return Response(
        content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers or {}
    )


def _domain(request: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Locked) else None
    return problem(
        exc.status, exc.title, exc.detail, headers, instance=request.url.path, **exc.extra
    )


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    extra: dict[str, Any] = {"instance": request.url.path}
    detail = exc.detail or title
    if isinstance(exc, ValidationException):
        errors = [_field_error(e) for e in (exc.extra or []) if isinstance(e, dict)]
        extra["errors"] = errors
        named = ", ".join(e["field"] for e in errors if e.get("field"))
        title = "Request validation failed"
        detail = f"Invalid value for: {named}" if named else _validation_detail(exc)
    headers = dict(exc.headers or {})
    if status == 405 and "Allow" not in headers and isinstance(exc.extra, dict):
        headers.update({k: str(v) for k, v in exc.extra.items()})
    return problem(status, title, detail, headers or None, **extra)


def _field_error(error: dict[str, Any]) -> dict[str, Any]:
    message = str(error.get("message", "invalid"))
    key = error.get("key")
    if key in (None, "", "data"):
        key = _field_from_message(message)
    return {"field": key, "message": message, "source": error.get("source", "body")}


def _field_from_message(message: str) -> str | None:
    # msgspec names the field as "... - at `$.field`" or "unknown field `name`";
    # "Expected `int`, got `str`" without a path is about the body as a whole.
    if "$." in message:
        return message.rsplit("$.", 1)[1].split()[0].strip("`'\"") or None
    if "unknown field `" in message:
        return message.split("unknown field `", 1)[1].split("`")[0] or None
    return None


def _validation_detail(exc: ValidationException) -> str:
    text = str(exc.detail or "")
    if "JSON" in text or "decode" in text.lower() or "malformed" in text.lower():
        return "The request body is not valid JSON"
    return "The request did not pass validation"


def _database(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.error("database_unavailable", error_type=type(exc).__name__, exc_info=exc)
    return _domain(request, DatabaseUnavailable("The database is unavailable; retry later"))


# PostgreSQL's answers to a clash with a concurrent transaction, or to a statement or
# lock wait that outlasted its time-out (lock_timeout, statement_timeout): retrying succeeds.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57014"})
# Text PostgreSQL cannot store (e.g. U+0000), should any reach it past input_hygiene.
UNSTORABLE_TEXT_SQLSTATES = frozenset({"22021", "22P05"})


# Connection failures (08), exhausted resources such as max_connections (53), and
# an operator's shutdown (57P01-57P03): the database, not the request, is at fault.
UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "53", "57P0")


def _database_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(UNAVAILABLE_SQLSTATE_PREFIXES):
        return _database(request, exc)
    if sqlstate in UNSTORABLE_TEXT_SQLSTATES:
        detail = "A text value holds a character the database cannot store (such as NUL)"
        return _domain(request, InvalidInput(detail))
    if sqlstate not in TRANSIENT_SQLSTATES:
        return _unexpected(request, exc)
    log.warning("database_conflict", error_type=type(exc).__name__, exc_info=exc)
    # The failed transaction was rolled back; an earlier one of the same request may
    # have committed, so the detail does not claim that nothing changed.
    response = _domain(
        request, DatabaseUnavailable("A concurrent change got in the way; retry the request")
    )
    response.headers["Retry-After"] = "1"
    return response


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # The redaction processor reduces exc_info to types and frames: an exception's text
    # can quote values it should not (a driver's SQL parameters, Vault's response body).
    log.error("unhandled_error", error_type=type(exc).__name__, path=request.url.path, exc_info=exc)
    return problem(500, "Internal server error", "The service failed; the error was logged")


class ProblemDetail(msgspec.Struct):
    """RFC 9457 problem details, as every error response carries them."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


def errors(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI responses for the problem statuses a handler can answer."""
    return {
        code: ResponseSpec(
            data_container=ProblemDetail,
            description=HTTPStatus(code).phrase,
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for code in codes
    }


def document_problems(app: Litestar, public_paths: tuple[str, ...]) -> None:
    """Add to every operation the problem responses the shared machinery can produce.

    Handlers declare only their own specific statuses (``responses=errors(409)``).
    """
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            methods = set(getattr(handler, "http_methods", ()))
            codes = {500}
            if not route.path.startswith(public_paths):
                codes |= {401, 403, 503}
            if "{" in route.path:
                codes.add(404)
            if methods & {"POST", "PUT", "PATCH"}:
                codes |= {400, 413, 415, 422}
            elif "{" in route.path or _has_query_parameters(handler):
                codes.add(400)
            handler.responses = {**errors(*sorted(codes)), **(handler.responses or {})}


# Parameters the app injects; anything else in a handler's signature comes from the URL.
_INJECTED = frozenset({"self", "rt", "caller", "request", "data", "headers", "state"})


def _has_query_parameters(handler: Any) -> bool:
    signature = getattr(handler, "parsed_fn_signature", None)
    return signature is not None and bool(set(signature.parameters) - _INJECTED)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: _domain,
    HTTPException: _http,
    OperationalError: _database,
    DBAPIError: _database_error,
    PoolTimeout: _database,
    Exception: _unexpected,
}


async def send_problem(scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    """Answer ``exc`` as the exception handlers would, through ``send``.

    For errors raised in the app's middleware (authentication), which Litestar
    would otherwise answer outside the request-log middleware's view.
    """
    kind = next(k for k in type(exc).__mro__ if k in EXCEPTION_HANDLERS)
    request: Request[Any, Any, Any] = Request(scope, receive)
    response = EXCEPTION_HANDLERS[kind](request, exc)
    await response.to_asgi_response(None, request)(scope, receive, send)


__all__ = [
    "EXCEPTION_HANDLERS",
    "PROBLEM_JSON",
    "document_problems",
    "errors",
    "problem",
    "send_problem",
]
