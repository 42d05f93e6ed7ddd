"""How the documents state an account's custody facts, from its SQL row (never from Vault)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row

from service.db.models import Account
from service.documents.content import MASK
from service.domain.accounts import AccountProfile, may_hold_credential
from service.domain.masking import mask_channel

TWO_FACTOR_LABELS = {"totp": "TOTP de la plataforma (semilla en custodia)"}
NO_2FA = "sin segundo factor registrado"


def two_factor_label(method: str | None) -> str:
    """How documents name the account's second factor, as custody recorded it in SQL."""
    if not method:
        return NO_2FA
    return TWO_FACTOR_LABELS.get(method, method)


def masked_channels(account: Account | Row[Any]) -> tuple[str, ...]:
    """The account's recovery channels, masked; a value stored unmasked is masked here."""
    out = []
    for value in (account.recovery_email_masked, account.recovery_phone_masked):
        if value:
            out.append(value if MASK in value else (mask_channel(value) or ""))
    return tuple(out)


def in_custody(account: Account, now: datetime) -> bool:
    """Whether the body may hold the account's password now (Segunda II–III, Décima novena)."""
    profile = AccountProfile(
        kind="personal" if account.kind == "personal" else "oficial",
        hierarchy_level=account.hierarchy_level,
        managed_by_area=account.managed_by_area,
        term_ends_on=account.term_ends_on,
    )
    return may_hold_credential(profile, now)
