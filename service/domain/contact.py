"""Shape checks for contact data and links: emails, phone numbers, http(s) URLs."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from service.errors import InvalidInput

# Deliberately plain: one @, a dotted domain, no spaces. Deliverability is not ours to check.
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
# E.164 allows 15 digits; separators people type are tolerated.
_PHONE = re.compile(r"\+?[0-9][0-9 ().-]{5,30}")
MIN_PHONE_DIGITS = 7
MAX_PHONE_DIGITS = 15


def validate_email(value: str, field: str = "email") -> str:
    """Return the trimmed email or raise InvalidInput naming ``field``."""
    email = value.strip()
    if len(email) > 254 or _EMAIL.fullmatch(email) is None:
        raise InvalidInput(
            f"{field} must be an email address like nombre@dominio.gob.mx", field=field
        )
    return email


def validate_phone(value: str, field: str = "phone") -> str:
    """Return the trimmed phone number or raise InvalidInput naming ``field``."""
    phone = value.strip()
    digits = sum(ch.isdigit() for ch in phone)
    if _PHONE.fullmatch(phone) is None or not MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS:
        raise InvalidInput(
            f"{field} must be a phone number of 7 to 15 digits, e.g. +52 55 1234 5678",
            field=field,
        )
    return phone


def validate_http_url(value: str, field: str = "url") -> str:
    """Return the URL when it is absolute http(s) with a host; else InvalidInput."""
    url = value.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{field} must be an http:// or https:// URL", field=field)
    return url
