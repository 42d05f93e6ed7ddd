"""The log redaction processor drops every key that can carry a secret."""

from __future__ import annotations

from typing import Any

import pytest

from service.observability import REDACTED, redact

CANARY = "CANARY-s3cr3t-value"


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "new_password",
        "totp_code",
        "totp_secret",
        "seed",
        "backup_codes",
        "token",
        "Authorization",
        "client_token",
        "secret_id",
        "credential",
        "cookie",
    ],
)
def test_secret_keys_are_redacted(key: str) -> None:
    event: dict[str, Any] = {"event": "x", key: CANARY}
    assert redact(None, "info", event)[key] == REDACTED


def test_nested_mappings_are_redacted_and_plain_keys_kept() -> None:
    event: dict[str, Any] = {
        "event": "request",
        "route": "/v1/accounts",
        "status": 201,
        "body": {"username": "cuenta", "password": CANARY, "deep": {"seed": CANARY}},
        "items": [{"token": CANARY, "name": "ok"}, ("plain", {"otp": CANARY})],
    }
    out = redact(None, "info", event)
    assert CANARY not in repr(out)
    assert out["route"] == "/v1/accounts"
    assert out["status"] == 201
    assert out["body"]["username"] == "cuenta"
    assert out["items"][0]["name"] == "ok"
