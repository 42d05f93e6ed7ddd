"""Exceptions for the logs: types, chain links and frames (module:function:line), no text."""

from __future__ import annotations

import re
import traceback
from types import TracebackType
from typing import Any

REDACTED = "[redacted]"
_MAX_CHAIN = 8
_MAX_FRAMES = 40

# Formatted tracebacks (uvicorn logs a failed startup's traceback as the message).
TB_HEADER = re.compile(
    r"^[\s|+]*(?:Exception Group )?(?:Traceback|Stack) \(most recent call last\):", re.MULTILINE
)
_FILE_LINE = re.compile(r'^\s+File "[^"\n]*", line \d+, in [\w.<>]+$')
_CHAINED = (
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
)
_TYPE_LINE = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?::|$)")
_GROUP_MARGIN = re.compile(r"^\s*\| ?")


def exception_chain(exc: BaseException) -> list[dict[str, Any]]:
    """Each exception of the chain, outermost first: its type, link and frames; no text."""
    chain: list[dict[str, Any]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    via = ""
    while current is not None and id(current) not in seen and len(chain) < _MAX_CHAIN:
        seen.add(id(current))
        item: dict[str, Any] = {"type": type_name(type(current))}
        if via:
            item["via"] = via
        item["at"] = _frames(current.__traceback__)
        if isinstance(current, BaseExceptionGroup):
            item["group"] = [type_name(type(e)) for e in current.exceptions[:_MAX_CHAIN]]
        chain.append(item)
        # The context is followed even under ``raise ... from None``: types and places
        # are safe to log, and they are what an operator needs.
        if current.__cause__ is not None:
            current, via = current.__cause__, "cause"
        else:
            current, via = current.__context__, "context"
    return chain


def type_name(cls: type) -> str:
    """``module.Qualname`` of an exception class (builtins by bare name)."""
    module = getattr(cls, "__module__", "")
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def reduce_traceback_text(text: str, *, keep_prose: bool = True) -> str:
    """Keep a formatted traceback's headers, File lines and exception types; drop the rest.

    ``keep_prose`` keeps what precedes the first traceback (a log message, masked later).
    """
    out: list[str] = []
    state = "prose"
    for raw in text.splitlines():
        header = TB_HEADER.match(raw)
        if header:
            out.append(header.group(0).strip(" |+"))
            state = "frames"
            continue
        line = _GROUP_MARGIN.sub("", raw)
        if state == "prose":
            if keep_prose:
                out.append(raw)
        elif state == "frames":
            if _FILE_LINE.match(line):
                out.append(line.rstrip())
            elif line and not line[0].isspace() and not line.startswith("+"):
                # The exception line: its type stays, its message (and what follows) goes.
                match = _TYPE_LINE.match(line)
                out.append(match.group(1) if match else REDACTED)
                state = "message"
        elif line.strip() in _CHAINED:
            out.extend(("", line.strip(), ""))
    return "\n".join(out)


def _frames(tb: TracebackType | None) -> list[str]:
    frames = [
        f"{frame.f_globals.get('__name__', '?')}:{frame.f_code.co_qualname}:{line}"
        for frame, line in traceback.walk_tb(tb)
    ]
    if len(frames) > _MAX_FRAMES:
        frames = [f"... {len(frames) - _MAX_FRAMES} outer frames", *frames[-_MAX_FRAMES:]]
    return frames
