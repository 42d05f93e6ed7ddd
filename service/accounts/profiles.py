"""An account's fields as the policy rules read them (service.domain.accounts)."""

from __future__ import annotations

from typing import Any

from service.accounts.schemas import AccountIn
from service.db.models import Account
from service.domain.accounts import AccountProfile


def profile_of(values: dict[str, Any]) -> AccountProfile:
    return AccountProfile(
        kind=values["kind"],
        owner_name=values.get("owner_name"),
        owner_cargo=values.get("owner_cargo"),
        hierarchy_level=values.get("hierarchy_level"),
        managed_by_area=bool(values.get("managed_by_area")),
        term_ends_on=values.get("term_ends_on"),
        in_directory=bool(values.get("in_directory")),
    )


def profile_of_row(row: Account) -> AccountProfile:
    return profile_of({k: getattr(row, k) for k in AccountIn.__struct_fields__})
