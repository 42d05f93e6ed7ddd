"""Masking of recovery channels for documents: enough to recognise, not to use."""

from __future__ import annotations

# A fixed run of bullets, so the mask does not tell how long the hidden part is.
BULLETS = "••••"
PHONE_BULLETS = "••••••"


def mask_email(value: str | None) -> str | None:
    """``cuenta@dominio.gob.mx`` → ``c••••@dominio.gob.mx``; the domain stays readable."""
    if value is None:
        return None
    local, at, domain = value.strip().rpartition("@")
    if not at or not local or not domain:
        return BULLETS
    return f"{local[0]}{BULLETS}@{domain}"


def mask_phone(value: str | None) -> str | None:
    """Keep the last 4 digits (2 for short numbers, none below 4): ``••••••5678``."""
    if value is None:
        return None
    digits = "".join(ch for ch in value if ch.isascii() and ch.isdigit())
    if len(digits) >= 8:
        kept = 4
    elif len(digits) >= 4:
        kept = 2
    else:
        kept = 0
    return PHONE_BULLETS + (digits[-kept:] if kept else "")


def mask_channel(value: str | None) -> str | None:
    """Mask a recovery channel, as an email if it has an ``@``, else as a phone."""
    if value is None:
        return None
    return mask_email(value) if "@" in value else mask_phone(value)
