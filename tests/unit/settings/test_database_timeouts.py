"""The PostgreSQL time-outs are settings with safe defaults, and cannot be switched off."""

from __future__ import annotations

import pytest

from service.settings import Settings, SettingsError


def test_defaults_bound_statements_and_lock_waits() -> None:
    settings = Settings.from_env({})
    assert settings.database_statement_timeout_ms == 30_000
    # Shorter than a statement's: a lock wait ends as the lock time-out (55P03).
    assert settings.database_lock_timeout_ms == 10_000


def test_variables_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "CUSTODIA_DATABASE_STATEMENT_TIMEOUT_MS": "5000",
            "CUSTODIA_DATABASE_LOCK_TIMEOUT_MS": "250",
        }
    )
    assert (settings.database_statement_timeout_ms, settings.database_lock_timeout_ms) == (
        5000,
        250,
    )


@pytest.mark.parametrize(
    "name", ["CUSTODIA_DATABASE_STATEMENT_TIMEOUT_MS", "CUSTODIA_DATABASE_LOCK_TIMEOUT_MS"]
)
@pytest.mark.parametrize("value", ["0", "-1", "30s"])
def test_a_time_out_cannot_be_disabled_or_malformed(name: str, value: str) -> None:
    # PostgreSQL reads 0 as "no limit": the very queueing these settings prevent.
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
