"""Settings come from CUSTODIA_* variables and fail fast, naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import Settings, SettingsError


def test_defaults_are_the_embedded_stack() -> None:
    settings = Settings.from_env({})
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.port == 8000
    assert settings.vault_port == 8200
    assert settings.checkout_max_minutes == 480


@pytest.mark.parametrize(
    ("env", "field", "expected"),
    [
        ({"CUSTODIA_PORT": "9000"}, "port", 9000),
        ({"CUSTODIA_DIRECTORY_SHOW_GESTORES": "true"}, "directory_show_gestores", True),
        ({"CUSTODIA_DIRECTORY_SHOW_GESTORES": "0"}, "directory_show_gestores", False),
        (
            {"CUSTODIA_WEBHOOK_URLS": "http://a/x, http://b/y"},
            "webhook_urls",
            ("http://a/x", "http://b/y"),
        ),
        ({"CUSTODIA_VAULT_TIMEOUT_SECONDS": "2.5"}, "vault_timeout_seconds", 2.5),
        ({"CUSTODIA_HOME": "/srv/c"}, "database_url", "sqlite+aiosqlite:////srv/c/custodia.db"),
        ({"CUSTODIA_HOME": "/srv/c"}, "home", Path("/srv/c")),
    ],
)
def test_variables_are_parsed(env: dict[str, str], field: str, expected: object) -> None:
    assert getattr(Settings.from_env(env), field) == expected


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CUSTODIA_PORT": "eighty"}, "CUSTODIA_PORT"),
        ({"CUSTODIA_DIRECTORY_SHOW_GESTORES": "maybe"}, "CUSTODIA_DIRECTORY_SHOW_GESTORES"),
        ({"CUSTODIA_DATABASE_URL": "mysql://x"}, "CUSTODIA_DATABASE_URL"),
        ({"CUSTODIA_VAULT_ADDR": "127.0.0.1:8200"}, "CUSTODIA_VAULT_ADDR"),
        ({"CUSTODIA_CHECKOUT_MAX_MINUTES": "481"}, "CUSTODIA_CHECKOUT_MAX_MINUTES"),
        (
            {"CUSTODIA_CHECKOUT_MAX_MINUTES": "20", "CUSTODIA_CHECKOUT_DEFAULT_MINUTES": "30"},
            "CUSTODIA_CHECKOUT_DEFAULT_MINUTES",
        ),
        ({"CUSTODIA_CHECKOUT_DEFAULT_MINUTES": "0"}, "CUSTODIA_CHECKOUT_DEFAULT_MINUTES"),
        ({"CUSTODIA_VAULT_ROLE_ID": "r"}, "CUSTODIA_VAULT_SECRET_ID"),
        ({"CUSTODIA_PDF_PAGE_SIZE": "A3"}, "CUSTODIA_PDF_PAGE_SIZE"),
        ({"CUSTODIA_WEBHOOK_URLS": "https://ok.example/h, ftp://x"}, "CUSTODIA_WEBHOOK_URLS"),
        ({"CUSTODIA_VAULT_CONCURRENCY": "0"}, "CUSTODIA_VAULT_CONCURRENCY"),
    ],
)
def test_bad_values_fail_fast_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)
