"""Exceptions leave the logs as types, chain links and places, never as text, by every path."""

from __future__ import annotations

import functools
import io
import json
import logging
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog

from service.logs.observability import REDACTED, configure_logging, redact

CANARY = "CANARY-s3cr3t-value"
BAO_TOKEN = "s.w0PLzRtPfGXy08WnnQoYjCWY"


class DriverError(Exception):
    """Stands for a driver error that echoes what it was sent."""


def fail_inner() -> None:
    raise DriverError(f"duplicate key (password)=({CANARY})")


def fail_wrapped() -> None:
    try:
        fail_inner()
    except DriverError as exc:
        raise RuntimeError(f"write failed: {CANARY}") from exc


def fail_while_handling() -> None:
    try:
        fail_inner()
    except DriverError:
        # A second failure while handling the first.
        raise KeyError("no such key " + CANARY)  # noqa: B904 - the implicit context is the point


def caught(fail: Any) -> Exception:
    try:
        fail()
    except Exception as exc:
        return exc
    raise AssertionError("did not fail")


HERE = __name__
WRAPPED = [
    {"type": "RuntimeError", "at": ["caught", "fail_wrapped"]},
    {"type": f"{HERE}.DriverError", "via": "cause", "at": ["fail_wrapped", "fail_inner"]},
]


def shape(chain: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chain with each frame cut to its function (line numbers move with edits)."""
    out = []
    for item in chain:
        frames = item["at"]
        assert all(frame.startswith(f"{HERE}:") for frame in frames), frames
        out.append({**item, "at": [frame.split(":")[1] for frame in frames]})
    return out


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(
            lambda: {"event": "unhandled_error", "exc_info": caught(fail_wrapped)},
            {"event": "unhandled_error", "exception": WRAPPED},
            id="exc_info-exception",
        ),
        pytest.param(
            lambda: {"event": "x", "exc_info": (RuntimeError, caught(fail_wrapped), None)},
            {"event": "x", "exception": WRAPPED},
            id="exc_info-tuple-from-stdlib",
        ),
        pytest.param(
            lambda: {"event": "job_failed", "error": caught(fail_while_handling)},
            {
                "event": "job_failed",
                "error": [
                    {"type": "KeyError", "at": ["caught", "fail_while_handling"]},
                    {
                        "type": f"{HERE}.DriverError",
                        "via": "context",
                        "at": ["fail_while_handling", "fail_inner"],
                    },
                ],
            },
            id="exception-value-any-key-context-chain",
        ),
    ],
)
def test_exceptions_become_types_and_places(given: Any, expected: dict[str, Any]) -> None:
    out = dict(redact(None, "error", given()))
    assert CANARY not in repr(out)
    for key in ("exception", "error"):
        if key in out:
            out[key] = shape(out[key])
    assert out == expected


def test_exc_info_true_reads_the_exception_being_handled() -> None:
    try:
        fail_wrapped()
    except RuntimeError:
        out = dict(redact(None, "error", {"event": "boom", "exc_info": True}))
    assert CANARY not in repr(out)
    assert [item["type"] for item in out["exception"]] == ["RuntimeError", f"{HERE}.DriverError"]
    assert out["exception"][0]["at"][0].startswith(f"{HERE}:test_exc_info_true")


def test_exception_groups_name_their_members() -> None:
    group = ExceptionGroup("several " + CANARY, [caught(fail_inner), ValueError(CANARY)])
    out = dict(redact(None, "error", {"event": "x", "exc_info": group}))
    assert CANARY not in repr(out)
    assert out["exception"] == [
        {"type": "ExceptionGroup", "at": [], "group": [f"{HERE}.DriverError", "ValueError"]}
    ]


def formatted(fail: Any) -> str:
    return "".join(traceback.format_exception(caught(fail)))


@pytest.mark.parametrize(
    ("given", "expected_lines"),
    [
        pytest.param(
            {"exception": formatted(fail_wrapped)},
            {
                "exception": [
                    "Traceback (most recent call last):",
                    "fail_wrapped",
                    "fail_inner",
                    f"{HERE}.DriverError",
                    "",
                    "The above exception was the direct cause of the following exception:",
                    "",
                    "Traceback (most recent call last):",
                    "caught",
                    "fail_wrapped",
                    "RuntimeError",
                ]
            },
            id="rendered-traceback-field",
        ),
        pytest.param(
            # uvicorn logs a failed startup's traceback as the message itself.
            {"event": "Application startup failed\n" + formatted(fail_inner)},
            {
                "event": [
                    "Application startup failed",
                    "Traceback (most recent call last):",
                    "caught",
                    "fail_inner",
                    f"{HERE}.DriverError",
                ]
            },
            id="traceback-as-message",
        ),
        pytest.param(
            {"exception": f"DriverError: {CANARY}"}, {"exception": [REDACTED]}, id="bare-message"
        ),
        pytest.param(
            {"exception": f"while writing {CANARY}:\n" + formatted(fail_inner)},
            {
                "exception": [
                    "Traceback (most recent call last):",
                    "caught",
                    "fail_inner",
                    f"{HERE}.DriverError",
                ]
            },
            id="text-before-a-rendered-traceback",
        ),
    ],
)
def test_rendered_tracebacks_keep_only_files_lines_and_types(
    given: dict[str, str], expected_lines: dict[str, list[str]]
) -> None:
    out = dict(redact(None, "error", dict(given)))
    assert CANARY not in repr(out)
    assert {k: [_frame_or_line(line) for line in v.splitlines()] for k, v in out.items()} == (
        expected_lines
    )


def _frame_or_line(line: str) -> str:
    """A File line cut to its function name; other lines as they are."""
    if line.startswith("  File "):
        assert line.endswith(line.rsplit(" in ", 1)[1]) and ", line " in line
        return line.rsplit(" in ", 1)[1]
    return line


# -- the stdlib bridge: records of uvicorn, aiosqlite, SQLAlchemy... as configure_logging wires it


@pytest.fixture
def json_logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """configure_logging as the app runs it, writing to a buffer; the old set-up comes back."""
    root = logging.getLogger()
    access = logging.getLogger("uvicorn.access")
    saved = (root.handlers[:], root.level, structlog.get_config(), access.disabled)
    configure_logging("DEBUG")
    out = io.StringIO()
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(out)
    try:
        yield lambda: [json.loads(line) for line in out.getvalue().splitlines()]
    finally:
        root.handlers, root.level = saved[0], saved[1]
        structlog.configure(**saved[2])
        access.disabled = saved[3]


@pytest.mark.parametrize(
    ("logger", "message", "args", "exc_info", "expected"),
    [
        pytest.param(
            "aiosqlite",
            "returning exception %s",
            (DriverError(CANARY),),
            None,
            {"event": f"returning exception {HERE}.DriverError"},
            id="aiosqlite-exception-argument",
        ),
        pytest.param(
            "aiosqlite",
            "executing %s",
            (functools.partial(print, "INSERT INTO t VALUES (?)", (CANARY,)),),
            None,
            {"event": "executing <partial>"},
            id="aiosqlite-statement-parameters",
        ),
        pytest.param(
            "uvicorn.error",
            "Exception in ASGI application\n",
            (),
            caught(fail_wrapped),
            {"event": "Exception in ASGI application\n", "exception": WRAPPED},
            id="uvicorn-exc-info",
        ),
        pytest.param(
            "uvicorn.error",
            caught(fail_inner),
            (),
            None,
            {"event": f"{HERE}.DriverError"},
            id="exception-as-the-message",
        ),
        pytest.param(
            "sqlalchemy.pool.impl.AsyncAdaptedQueuePool",
            "Exception during reset or similar",
            (),
            caught(fail_wrapped),
            {"event": "Exception during reset or similar", "exception": WRAPPED},
            id="sqlalchemy-pool-exc-info",
        ),
        pytest.param(
            "httpx",
            "HTTP Request: %s %s %r",
            ("POST", f"http://bao/v1/auth/token/lookup?token={BAO_TOKEN}", {"X-Vault-Token": "r"}),
            None,
            {
                "event": f"HTTP Request: POST http://bao/v1/auth/token/lookup?token={REDACTED} "
                f"{{'X-Vault-Token': {REDACTED}"
            },
            id="token-in-url-and-header-arguments",
        ),
    ],
)
def test_stdlib_records_leave_as_redacted_json(
    json_logs: Callable[[], list[dict[str, Any]]],
    logger: str,
    message: Any,
    args: tuple[Any, ...],
    exc_info: BaseException | None,
    expected: dict[str, Any],
) -> None:
    logging.getLogger(logger).error(message, *args, exc_info=exc_info)
    [line] = json_logs()
    assert CANARY not in json.dumps(line) and BAO_TOKEN not in json.dumps(line)
    got = {k: v for k, v in line.items() if k in ("event", "exception")}
    if "exception" in got:
        got["exception"] = shape(got["exception"])
    assert got == expected
    assert line["level"] == "error"


def test_font_subsetting_chatter_stays_out_of_the_logs(
    json_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    """fontTools logs every subset at INFO; only its warnings reach the service's log."""
    fonts = logging.getLogger("fontTools.subset")
    fonts.info("name subsetted")
    fonts.warning("missing glyphs")
    assert [line["event"] for line in json_logs()] == ["missing glyphs"]
