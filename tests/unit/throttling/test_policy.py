"""The throttle's pure rules: refusals, keys, exemptions, windows and the hot path's memory."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.settings import Settings, SettingsError
from service.throttling.memory import RefusedKeys
from service.throttling.policy import (
    Window,
    address_key,
    client_address,
    is_exempt,
    is_refusal,
    token_key,
)


@pytest.mark.parametrize(
    ("method", "status", "refused"),
    [
        ("GET", 401, True),
        ("GET", 403, True),
        ("POST", 423, True),
        ("POST", 404, True),
        ("DELETE", 409, True),
        ("GET", 404, False),
        ("HEAD", 409, False),
        ("POST", 400, False),
        ("POST", 422, False),
        ("POST", 429, False),
        ("POST", 503, False),
        ("GET", 200, False),
    ],
)
def test_what_counts_as_a_refusal(method: str, status: int, refused: bool) -> None:
    assert is_refusal(method, status) is refused


def test_keys_are_hashes_of_their_kind() -> None:
    digest = "ab" * 32
    token = token_key(digest)
    assert token.kind == "token"
    assert len(token.digest) == 64 and digest not in token.digest
    assert token_key(digest) == token
    assert address_key("198.51.100.7").kind == "address"
    assert address_key("198.51.100.7") != address_key("198.51.100.8")
    assert client_address("::ffff:198.51.100.7") == "198.51.100.7"
    assert client_address("2001:db8::1") == "2001:db8::1"
    assert client_address("testclient") == "testclient"


@pytest.mark.parametrize(
    ("address", "exempt"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("198.51.100.7", False),
        ("::ffff:127.0.0.1", True),
        ("::ffff:198.51.100.7", False),
        ("testclient", False),
    ],
)
def test_loopback_is_exempt_by_default(address: str, exempt: bool) -> None:
    assert is_exempt(address, Settings().throttle_exempt_addresses) is exempt


def test_windows_are_fixed_from_the_epoch() -> None:
    now = datetime(2031, 3, 4, 5, 6, 10, 500_000, tzinfo=UTC)
    window = Window.at(now, 60)
    assert window.start == datetime(2031, 3, 4, 5, 6, tzinfo=UTC)
    assert window.end == datetime(2031, 3, 4, 5, 7, tzinfo=UTC)
    assert window.retry_after(now) == 50
    assert window.retry_after(window.end) == 1
    assert Window.at(window.end, 60).start == window.end


def test_settings_refuse_bad_limits_and_networks() -> None:
    env = {"CUSTODIA_THROTTLE_EXEMPT_ADDRESSES": "10.0.0.0/8, 192.0.2.1"}
    assert Settings.from_env(env).throttle_exempt_addresses == ("10.0.0.0/8", "192.0.2.1")
    with pytest.raises(SettingsError, match="CUSTODIA_THROTTLE_EXEMPT_ADDRESSES"):
        Settings.from_env({"CUSTODIA_THROTTLE_EXEMPT_ADDRESSES": "proxy.local"})
    for name in ("WINDOW_SECONDS", "TOKEN_REFUSALS", "ADDRESS_REFUSALS"):
        with pytest.raises(SettingsError, match=f"CUSTODIA_THROTTLE_{name}"):
            Settings.from_env({f"CUSTODIA_THROTTLE_{name}": "0"})


W1 = datetime(2031, 1, 1, 0, 0, tzinfo=UTC)
W2 = datetime(2031, 1, 1, 0, 1, tzinfo=UTC)
W3 = datetime(2031, 1, 1, 0, 2, tzinfo=UTC)


def test_memory_knows_keys_refused_in_this_window_or_the_last() -> None:
    memory = RefusedKeys()
    a, b = address_key("198.51.100.1"), address_key("198.51.100.2")
    assert memory.known(W1, [a, b]) == []
    memory.saw(W1, a, 2, summarised=False)
    memory.saw(W1, a, 1, summarised=True)  # counts only grow; a summary stays done
    seen = memory.get(W1, a)
    assert seen is not None and (seen.refusals, seen.summarised) == (2, True)
    assert memory.known(W1, [a, b]) == [a]
    assert memory.known(W2, [a, b]) == [a]  # still checked: the counters start again
    assert memory.get(W2, a) is None
    assert memory.known(W3, [a, b]) == []


def test_full_memory_checks_every_key_until_the_window_ends() -> None:
    memory = RefusedKeys(capacity=1)
    a, b, c = (address_key(f"198.51.100.{n}") for n in (1, 2, 3))
    memory.saw(W1, a, 1, summarised=False)
    assert memory.known(W1, [b, c]) == []
    memory.saw(W1, b, 1, summarised=False)  # no room: from now on every key is checked
    assert memory.known(W1, [b, c]) == [b, c]
    assert memory.known(W3, [c]) == []
