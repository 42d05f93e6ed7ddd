"""Log redaction that fails closed: secret keys, secret-shaped values and exception text."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any, NamedTuple
from uuid import UUID

from service.logs.exceptions import (
    REDACTED,
    TB_HEADER,
    exception_chain,
    reduce_traceback_text,
    type_name,
)

__all__ = ["REDACTED", "SECRET_KEY", "mask_text", "redact", "sanitize_record"]

# The value of any key that can carry a secret is replaced, wherever it appears.
SECRET_KEY = re.compile(
    r"pass(word)?|secret|seed|token|totp|code|backup|authorization|cookie|credential|otp"
    r"|api_?key|private_?key",
    re.IGNORECASE,
)
_KEY_WORDS = (
    r"pass(?:word|wd|phrase)?|pwd|secret|seed|token|totp|otp|backup|credential|codes?"
    r"|api_?key|private_?key"
)
_NOT_DONE = r"(?!\[redacted\])"


class _Mask(NamedTuple):
    """A secret shape; ``triggers`` (lower case) must occur for the pattern to be tried."""

    triggers: tuple[str, ...]
    pattern: re.Pattern[str]
    replacement: str


# Values that look like secrets, whatever key (or free text) carries them. The triggers
# keep the per-event cost low: most values (ids, routes, times) contain none of them.
_TEXT_MASKS = (
    # otpauth:// URIs carry a TOTP seed.
    _Mask(("otpauth:",), re.compile(r"otpauth://[^\s\"'<>]+", re.IGNORECASE), REDACTED),
    # user:password@ in a URL.
    _Mask(("://",), re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+@"), f"{REDACTED}@"),
    # Authorization and Cookie headers quoted in text (also as a repr'd header pair):
    # the rest of the line goes.
    _Mask(
        ("authorization", "cookie", "x-vault-token"),
        re.compile(
            r"(authorization|cookie|x-vault-token)"
            rf"((?:['\"]?\s*[:=]\s*|['\"]\s*,\s*b?['\"]){_NOT_DONE})[^\r\n]+",
            re.IGNORECASE,
        ),
        rf"\1\2{REDACTED}",
    ),
    # password=…, "token": "…", ?code=… in messages, URLs and echoed bodies.
    _Mask(
        ("pass", "pwd", "secret", "seed", "token", "otp", "backup", "credential", "code", "key"),
        re.compile(
            rf"((?:{_KEY_WORDS})[\w-]*)((?:['\"]?\s*[:=]\s*){_NOT_DONE})"
            r"(\"[^\"]*\"|'[^']*'|[^\s,;&'\"})\]]+)",
            re.IGNORECASE,
        ),
        rf"\1\2{REDACTED}",
    ),
    _Mask(
        ("bearer",),
        re.compile(rf"(bearer)\s+{_NOT_DONE}[^\s,;'\"]+", re.IGNORECASE),
        rf"\1 {REDACTED}",
    ),
    # Vault tokens: hvs./hvb./hvr. (Vault 1.10+), s./b./r. (OpenBao and older Vault).
    _Mask(
        ("s.", "b.", "r."),
        re.compile(r"(?<![\w.-])(?:hv[sbr]|[sbr])\.[A-Za-z0-9_-]{20,}"),
        REDACTED,
    ),
    # Custodia's API tokens (service.tokens.repository.TOKEN_PREFIX).
    _Mask(("cust_",), re.compile(r"(?<![A-Za-z0-9])cust_[A-Za-z0-9_-]{8,}"), REDACTED),
    # A base32 TOTP seed standing alone (upper case, with a digit and a letter); no
    # trigger: it is tried on any text with a capital letter.
    _Mask(
        (),
        re.compile(
            r"(?<![A-Za-z0-9])(?=[A-Z2-7]*[2-7])(?=[A-Z2-7]*[A-Z])[A-Z2-7]{16,}=*(?![A-Za-z0-9])"
        ),
        REDACTED,
    ),
)
_ANY_TRIGGER = re.compile("|".join(re.escape(t) for m in _TEXT_MASKS for t in m.triggers))

_HEADER_NAME = re.compile(rb"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")

_MAX_DEPTH = 12
# structlog's stdlib bridge keeps its own bookkeeping here; it is removed before rendering.
_META = frozenset({"_record", "_from_structlog"})


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: secrets by key and by shape, exceptions reduced to type and place."""
    _reduce_exception_fields(event)
    for key in list(event):
        if key in _META:
            continue
        value = event[key]
        event[key] = _scrub(value, 0) if key == "event" else _clean(key, value, 0)
    return event


def sanitize_record(record: logging.LogRecord) -> bool:
    """logging filter: a stdlib record's arguments lose exception text and unknown objects.

    Libraries format exceptions and objects into their messages (aiosqlite logs the
    exception it returns and, at DEBUG, each statement's parameters); the message is
    built from these arguments before any processor sees it.
    """
    if not isinstance(record.msg, str | dict):  # dict: a structlog event on its way
        record.msg = str(_argument(record.msg))
    if isinstance(record.args, Mapping):
        record.args = {k: _argument(v) for k, v in record.args.items()}
    elif record.args:
        record.args = tuple(_argument(arg) for arg in record.args)
    return True


def mask_text(text: str) -> str:
    """``text`` with tracebacks cut to types and places and secret-shaped values masked."""
    if "most recent call last" in text and TB_HEADER.search(text):
        text = reduce_traceback_text(text)
    lower = text.lower()
    if not _ANY_TRIGGER.search(lower) and lower == text:
        return text  # the common case: an id, a route, a word
    for mask in _TEXT_MASKS:
        if any(t in lower for t in mask.triggers) if mask.triggers else lower != text:
            text = mask.pattern.sub(mask.replacement, text)
            lower = text.lower()
    return text


def _reduce_exception_fields(event: MutableMapping[str, Any]) -> None:
    """exc_info (True, an exception or a sys.exc_info() tuple) becomes ``exception``."""
    if "exc_info" in event:
        exc = _exception_of(event.pop("exc_info"))
        if exc is not None:
            event["exception"] = exc
    for key in ("exception", "stack_info"):
        value = event.get(key)
        if isinstance(value, str):
            # Rendered elsewhere, e.g. by structlog's format_exc_info: only a traceback's
            # skeleton can be kept; a bare message cannot be told from a secret.
            if TB_HEADER.search(value):
                event[key] = reduce_traceback_text(value, keep_prose=False)
            else:
                event[key] = REDACTED
        elif value is not None and not isinstance(value, BaseException):
            event[key] = REDACTED


def _exception_of(value: Any) -> BaseException | None:
    if value is True:
        value = sys.exc_info()
    if isinstance(value, tuple) and len(value) == 3:
        value = value[1]
    return value if isinstance(value, BaseException) else None


def _argument(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | float):
        return value  # masked with the whole message; numbers keep %d working
    if isinstance(value, BaseException):
        return " <- ".join(item["type"] for item in exception_chain(value))
    return _scrub(value, 0)


def _clean(key: object, value: Any, depth: int) -> Any:
    if isinstance(key, str) and SECRET_KEY.search(key):
        return REDACTED
    return _scrub(value, depth)


def _scrub(value: Any, depth: int) -> Any:
    """A JSON-safe copy of ``value`` with secrets masked; unknown objects by type only."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return mask_text(value)
    if depth >= _MAX_DEPTH:
        return REDACTED
    if isinstance(value, BaseException):
        return exception_chain(value)
    if isinstance(value, Mapping):
        return {_key(k): _clean(k, v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        name = _pair_name(items)
        if name is not None:
            # A (name, value) pair such as an ASGI header: the name decides.
            return [mask_text(name), _clean(name, items[1], depth + 1)]
        return [_scrub(item, depth + 1) for item in items]
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"  # bodies and raw headers: never their content
    if isinstance(value, type):
        return type_name(value)
    if isinstance(value, Enum):
        return _scrub(value.value, depth + 1)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID | Decimal | timedelta | PurePath):
        return mask_text(str(value))
    # An arbitrary object's repr can hold anything (a dataclass with a password field).
    return f"<{type(value).__qualname__}>"


def _key(key: object) -> Any:
    if isinstance(key, str):
        return mask_text(key)
    if key is None or isinstance(key, bool | int | float):
        return key
    return f"<{type(key).__qualname__}>"


def _pair_name(items: list[Any]) -> str | None:
    if len(items) != 2:
        return None
    name = items[0]
    if isinstance(name, bytes) and _HEADER_NAME.fullmatch(name):
        return name.decode("ascii")
    return name if isinstance(name, str) else None
