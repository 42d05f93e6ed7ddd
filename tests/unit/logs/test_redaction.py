"""The log redaction processor: secret keys, and secret-shaped values whatever the key."""

from __future__ import annotations

from typing import Any

import pytest

from service.logs.observability import REDACTED, redact

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


# -- values that look like secrets, whatever key (or free text) carries them ---------------

VAULT_TOKEN = "hvs.CAESIJlWh1Ab2Cd3Ef4Gh5Ij6Kl7Mn8Op9Qr0St1Uv2Wx3YzGh4KHGh2cy5Wb2Vk"
BAO_TOKEN = "s.w0PLzRtPfGXy08WnnQoYjCWY"
BATCH_TOKEN = "b.AAAAAQJKf1-9viQjgCdzn4GeH58szTeWdPlryWK_-4SWZmPbXysbS3b6nCOasx1Q6ryWr"
API_TOKEN = "cust_3q2-7wEhbXrDm4FJ8w_Zt5VqkLx0aY9dRcN1pUeO6sI"  # the shape issue_token gives
ACCOUNT_ID = "0b4c3f7e-6d1a-4c1e-9a57-2f0d8e6b9c31"
TIMESTAMP = "2025-01-31T23:59:59.123456+00:00"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param({"note": VAULT_TOKEN}, {"note": REDACTED}, id="vault-token-any-key"),
        pytest.param(
            {"event": f"vault login gave {BAO_TOKEN} (ttl 3600)"},
            {"event": f"vault login gave {REDACTED} (ttl 3600)"},
            id="openbao-token-in-message",
        ),
        pytest.param(
            {"detail": f"wrapped: [{BATCH_TOKEN}, hvb.{BATCH_TOKEN[2:]}, hvr.{BAO_TOKEN[2:]}]"},
            {"detail": f"wrapped: [{REDACTED}, {REDACTED}, {REDACTED}]"},
            id="batch-and-recovery-tokens",
        ),
        pytest.param(
            {"request_id": API_TOKEN, "principal": f"caller {API_TOKEN}."},
            {"request_id": REDACTED, "principal": f"caller {REDACTED}."},
            id="custodia-token-any-key",
        ),
        pytest.param(
            {"event": "retrying with Bearer abc.DEF-123_x", "hint": "bearer\tzzz, then"},
            {"event": f"retrying with Bearer {REDACTED}", "hint": f"bearer {REDACTED}, then"},
            id="bearer-anywhere",
        ),
        pytest.param(
            {
                "event": "sent\nAuthorization: Basic dXNlcjpwYXNz\nHost: custodia",
                "raw": "Cookie: session=abc; theme=dark",
                "seen": "{'x-vault-token': 'root-abc', 'accept': '*/*'}",
            },
            {
                "event": f"sent\nAuthorization: {REDACTED}\nHost: custodia",
                "raw": f"Cookie: {REDACTED}",
                "seen": f"{{'x-vault-token': {REDACTED}",
            },
            id="header-lines-in-text",
        ),
        pytest.param(
            {"scope": {"headers": [(b"authorization", b"Bearer x"), (b"host", b"custodia")]}},
            {"scope": {"headers": [["authorization", REDACTED], ["host", "<8 bytes>"]]}},
            id="asgi-header-pairs",
        ),
        pytest.param(
            {"path": "/v1/me/totp/confirm?code=123456&next=%2F", "url": "/cb?state=1&code=9"},
            {
                "path": f"/v1/me/totp/confirm?code={REDACTED}&next=%2F",
                "url": f"/cb?state=1&code={REDACTED}",
            },
            id="query-string-codes",
        ),
        pytest.param(
            {"detail": 'Vault: invalid body {"password": "hunter 2", "username": "ana"}'},
            {"detail": f'Vault: invalid body {{"password": {REDACTED}, "username": "ana"}}'},
            id="echoed-json-body",
        ),
        pytest.param(
            {
                "uri": "otpauth://totp/X:ana?secret=JBSWY3DPEHPK3PXP&issuer=X",
                "t": "s JBSWY3DPEHPK3PXP",
            },
            {"uri": REDACTED, "t": f"s {REDACTED}"},
            id="totp-seed-and-uri",
        ),
        pytest.param(
            {"dsn": "postgresql+asyncpg://app:pa55word@db:5432/custodia"},
            {"dsn": f"postgresql+asyncpg://{REDACTED}@db:5432/custodia"},
            id="url-userinfo",
        ),
        pytest.param(
            {"body": b'{"password": "x"}', "row": ("ana", b"\x00\x01")},
            {"body": "<17 bytes>", "row": ["ana", "<2 bytes>"]},
            id="bytes-never-shown",
        ),
        pytest.param(
            {
                "event": "request",
                "account_id": ACCOUNT_ID,
                "ids": [ACCOUNT_ID.upper(), "9f86d081884c7d65"],
                "at": TIMESTAMP,
                "expires_at": "2025-01-31T23:59:59Z",
                "route": "/v1/accounts/{account_id}/checkouts",
                "status": 201,
                "latency_ms": 3.5,
                "error_type": "VaultUnavailable",
                "action": "credential.checked_out",
                "client": f"Bearer {API_TOKEN}",
            },
            {
                "event": "request",
                "account_id": ACCOUNT_ID,
                "ids": [ACCOUNT_ID.upper(), "9f86d081884c7d65"],
                "at": TIMESTAMP,
                "expires_at": "2025-01-31T23:59:59Z",
                "route": "/v1/accounts/{account_id}/checkouts",
                "status": 201,
                "latency_ms": 3.5,
                "error_type": "VaultUnavailable",
                "action": "credential.checked_out",
                "client": f"Bearer {REDACTED}",
            },
            id="ids-and-timestamps-kept",
        ),
    ],
)
def test_secret_shaped_values_are_masked_whatever_the_key(
    given: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert dict(redact(None, "info", dict(given))) == expected
