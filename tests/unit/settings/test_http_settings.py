"""The HTTP limits are settings with safe defaults, and they reach uvicorn's configuration."""

from __future__ import annotations

import pytest

from service.http.server import GuardedHttpToolsProtocol, HttpLimits, server_config
from service.settings import Settings, SettingsError


def test_defaults_are_safe() -> None:
    s = Settings()
    assert s.http_max_header_bytes == 16 * 1024 and s.http_max_headers == 100
    assert s.http_header_timeout_seconds == 10.0 and s.http_body_timeout_seconds == 30.0
    assert s.http_keep_alive_seconds == 5 and s.http_max_connections == 200


def test_variables_are_parsed() -> None:
    s = Settings.from_env(
        {
            "CUSTODIA_HTTP_MAX_HEADER_BYTES": "8192",
            "CUSTODIA_HTTP_HEADER_TIMEOUT_SECONDS": "2.5",
            "CUSTODIA_HTTP_MAX_CONNECTIONS": "50",
        }
    )
    assert (s.http_max_header_bytes, s.http_header_timeout_seconds) == (8192, 2.5)
    assert s.http_max_connections == 50


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CUSTODIA_HTTP_MAX_HEADER_BYTES", "100"),
        ("CUSTODIA_HTTP_MAX_HEADERS", "0"),
        ("CUSTODIA_HTTP_HEADER_TIMEOUT_SECONDS", "0"),
        ("CUSTODIA_HTTP_BODY_TIMEOUT_SECONDS", "-1"),
        ("CUSTODIA_HTTP_BODY_TIMEOUT_SECONDS", "nan"),
        ("CUSTODIA_HTTP_KEEP_ALIVE_SECONDS", "0"),
        ("CUSTODIA_HTTP_MAX_CONNECTIONS", "0"),
        ("CUSTODIA_HTTP_MAX_CONNECTIONS", "many"),
    ],
)
def test_bad_values_fail_fast_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_the_settings_reach_uvicorn() -> None:
    settings = Settings(
        host="127.0.0.2",
        port=8123,
        http_max_header_bytes=4096,
        http_max_headers=20,
        http_header_timeout_seconds=3.0,
        http_body_timeout_seconds=4.0,
        http_keep_alive_seconds=6,
        http_max_connections=70,
    )
    config = server_config(object(), settings, lifespan="on")
    assert (config.host, config.port, config.lifespan) == ("127.0.0.2", 8123, "on")
    assert config.timeout_keep_alive == 6 and config.limit_concurrency == 70
    assert config.log_config is None
    assert isinstance(config.http, type) and issubclass(config.http, GuardedHttpToolsProtocol)
    assert config.http.limits == HttpLimits(4096, 20, 3.0, 4.0)
