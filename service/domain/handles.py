"""Handles and account URLs: each platform's documented syntax and domain, and one key per handle.

Two handles are the same when their keys are equal: surrounding spaces and a
leading '@' are not part of a handle, case does not count, NFKC forms are one,
and characters the platform ignores (Facebook's periods) do not count either.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from service.domain.accounts import Platform
from service.errors import InvalidInput

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# A DNS name of two or more labels whose last one (the TLD) starts with a letter.
_HOST = rf"(?:{_LABEL}\.)+[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?"


@dataclass(frozen=True, slots=True)
class HandleRule:
    """One platform's handle syntax and the domains its account URLs live on."""

    allowed: str  # a regex character class body; "" means any non-space character
    says: str  # the rule in words, for the 422
    min_len: int
    max_len: int
    domains: tuple[str, ...] = ()  # empty: any host (the handle names it, or it is unknown)
    shape: str = ""  # a full-match regex for what the characters alone do not say
    shape_says: str = ""
    letters_of_any_script: bool = False  # letters and digits beyond ASCII are allowed
    ignored: str = ""  # characters that do not tell two handles apart

    def admits(self, char: str) -> bool:
        """Whether ``char`` may appear in a handle; compatibility forms never may."""
        if unicodedata.normalize("NFKC", char) != char:
            return False
        if self.letters_of_any_script and char.isalnum():
            return True
        if not self.allowed:
            return not char.isspace()
        return re.fullmatch(f"[{self.allowed}]", char) is not None


_INSTAGRAM = HandleRule(
    "A-Za-z0-9._", "letters A-Z, digits, '.' and '_'", 1, 30, ("instagram.com",)
)

HANDLE_RULES: dict[Platform, HandleRule] = {
    # Facebook Help Center, "Guidelines for creating a custom username": A-Z, 0-9 and
    # periods, at least 5 characters; periods and capitalisation do not tell usernames apart.
    "facebook": HandleRule(
        "A-Za-z0-9.",
        "letters A-Z, digits and '.'",
        5,
        50,
        ("facebook.com", "fb.com"),
        ignored=".",
    ),
    # Instagram Help Center: letters, numbers, underscores and periods; at most 30 characters.
    "instagram": _INSTAGRAM,
    # X Help Center, "Username rules": at most 15 characters, A-Z, 0-9 and underscores.
    "x": HandleRule("A-Za-z0-9_", "letters A-Z, digits and '_'", 1, 15, ("x.com", "twitter.com")),
    # TikTok Support, "Username": 2-24 letters, numbers, underscores and periods; no final period.
    "tiktok": HandleRule(
        "A-Za-z0-9._",
        "letters A-Z, digits, '.' and '_'",
        2,
        24,
        ("tiktok.com",),
        shape=r".*[^.]",
        shape_says="cannot end with '.'",
    ),
    # YouTube Help, "Handle guidelines": 3-30 letters or digits (in many languages), '_', '-', '.'.
    "youtube": HandleRule(
        "_.\\-",
        "letters, digits, '_', '-' and '.'",
        3,
        30,
        ("youtube.com",),
        letters_of_any_script=True,
    ),
    # LinkedIn Help, "Customize your public profile URL": 3-100 letters or numbers; the
    # addresses LinkedIn assigns (and company pages) also use hyphens.
    "linkedin": HandleRule(
        "A-Za-z0-9\\-", "letters A-Z, digits and '-'", 3, 100, ("linkedin.com",)
    ),
    # Threads Help: a Threads profile has its Instagram username.
    "threads": HandleRule(
        _INSTAGRAM.allowed, _INSTAGRAM.says, 1, 30, ("threads.net", "threads.com")
    ),
    # WhatsApp FAQ, "How to use click to chat": the full number in international format.
    "whatsapp": HandleRule(
        "0-9+",
        "a phone number in international format: digits, optionally after '+'",
        8,
        16,
        ("wa.me", "whatsapp.com"),
        shape=r"\+?[0-9]{8,15}",
        shape_says="must be 8 to 15 digits, optionally after one leading '+'",
        ignored="+",
    ),
    # Telegram FAQ and API (account.updateUsername): 5-32 characters, a-z, 0-9 and
    # underscores; it starts with a letter and does not end with an underscore.
    "telegram": HandleRule(
        "A-Za-z0-9_",
        "letters A-Z, digits and '_'",
        5,
        32,
        ("t.me", "telegram.me"),
        shape=r"[A-Za-z].*[A-Za-z0-9]",
        shape_says="starts with a letter and cannot end with '_'",
    ),
    # AT Protocol specification, "Handle": a DNS name of ASCII labels, at most 253 characters.
    "bluesky": HandleRule(
        "A-Za-z0-9.\\-",
        "a domain name: letters A-Z, digits, '-' and '.'",
        3,
        253,
        ("bsky.app",),
        shape=_HOST,
        shape_says="must be a domain name such as gobierno.bsky.social",
    ),
    # Mastodon documentation (WebFinger, Account.username): user@instance; the user part is
    # letters, digits and '_' (with '.' or '-' inside), at most 30 characters.
    "mastodon": HandleRule(
        "A-Za-z0-9_.@\\-",
        "user@instance: letters A-Z, digits, '_', '.', '-' and one '@'",
        3,
        200,
        shape=r"(?=[^@]{1,30}@)[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?@" + _HOST,
        shape_says="must be user@instance, with a user part of at most 30 characters",
    ),
    # A platform the service does not know: no syntax to check beyond visible characters.
    "other": HandleRule("", "visible characters and no spaces", 1, 200),
}


_IGNORED: dict[str, str] = {platform: rule.ignored for platform, rule in HANDLE_RULES.items()}


def _trimmed(raw: str) -> tuple[str, int]:
    """The handle without surrounding spaces and one leading '@', and where it starts in raw."""
    start = len(raw) - len(raw.lstrip())
    handle = raw.strip()
    if handle.startswith("@"):
        handle, start = handle[1:], start + 1
    return handle, start


def parse_handle(platform: Platform, raw: str, field: str = "handle") -> str:
    """The handle as stored (trimmed, no leading '@'), or InvalidInput saying what is wrong."""
    rule = HANDLE_RULES[platform]
    handle, start = _trimmed(raw)
    for offset, char in enumerate(handle):
        if not rule.admits(char):
            index = start + offset
            name = unicodedata.name(char, "unnamed")
            raise InvalidInput(
                f"{field} has U+{ord(char):04X} {name} at index {index}, which {platform} "
                f"does not allow in a handle: its handles have {rule.says}",
                field=field,
                rule="platform_syntax",
                character=f"U+{ord(char):04X}",
                character_name=name,
                index=index,
            )
    if not rule.min_len <= len(handle) <= rule.max_len:
        raise InvalidInput(
            f"Handles on {platform} have {rule.min_len} to {rule.max_len} characters "
            f"(not counting a leading @); this one has {len(handle)}",
            field=field,
            rule="platform_syntax",
        )
    if rule.shape and re.fullmatch(rule.shape, handle) is None:
        raise InvalidInput(
            f"A handle on {platform} {rule.shape_says}", field=field, rule="platform_syntax"
        )
    return handle


def handle_key(platform: str, handle: str) -> str:
    """What makes two handles of one platform the same: NFKC case-folded, trimmed, no '@'."""
    trimmed, _ = _trimmed(handle)
    key = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", trimmed).casefold())
    for char in _IGNORED.get(platform, ""):
        key = key.replace(char, "")
    return key


def _split(url: str, field: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        _ = parts.port  # a malformed port raises here
    except ValueError:
        parts = None
    if parts is None or parts.scheme != "https" or not parts.hostname:
        raise InvalidInput(f"{field} must be an https:// URL", field=field, rule="url")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(
            f"{field} must not carry a user name or password", field=field, rule="url"
        )
    return parts


def check_account_url(platform: Platform, handle: str, url: str, field: str = "url") -> str:
    """The trimmed URL when it is https on the platform's domain; else InvalidInput."""
    url = url.strip()
    host = (_split(url, field).hostname or "").rstrip(".")
    domains = HANDLE_RULES[platform].domains
    if platform == "mastodon":
        domains = (handle.rpartition("@")[2].lower(),)
    if domains and not any(host == d or host.endswith("." + d) for d in domains):
        raise InvalidInput(
            f"{field} of a {platform} account must be on {' or '.join(domains)}; "
            f"this one is on {host}",
            field=field,
            rule="platform_domain",
        )
    return url
