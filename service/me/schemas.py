"""Request and response shapes of the calling gestor's TOTP and responsiva."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec


class Enrollment(msgspec.Struct):
    otpauth_uri: str
    qr_svg: str


class CodeIn(msgspec.Struct, forbid_unknown_fields=True):
    # Any string up to 10: a malformed code is a wrong code, counted as a failure.
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=10)]


class Confirmed(msgspec.Struct):
    totp_state: str


class ResponsivaOut(msgspec.Struct):
    version: str
    sha256: str
    text: str
    accepted: bool
    accepted_at: datetime | None


class AcceptIn(msgspec.Struct, forbid_unknown_fields=True):
    accept: bool
