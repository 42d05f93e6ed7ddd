"""Handles: each platform's syntax, one key per handle, and URLs on the platform's domain."""

from __future__ import annotations

import pytest

from service.domain.accounts import PLATFORMS, Platform
from service.domain.handles import HANDLE_RULES, check_account_url, handle_key, parse_handle
from service.errors import InvalidInput


def test_every_platform_has_a_rule() -> None:
    assert set(HANDLE_RULES) == set(PLATFORMS)


@pytest.mark.parametrize(
    ("platform", "raw", "stored"),
    [
        ("x", "demo_pc_alertas", "demo_pc_alertas"),
        ("x", "demo_pc_alertas ", "demo_pc_alertas"),
        ("x", " @DEMO_PC_ALERTAS", "DEMO_PC_ALERTAS"),
        ("x", "x", "x"),
        ("facebook", "John.Smith55", "John.Smith55"),
        ("facebook", "demo.asmr.comunicacion", "demo.asmr.comunicacion"),
        ("instagram", "demo_asmr.imagen", "demo_asmr.imagen"),
        ("threads", "@demo_ds_programas", "demo_ds_programas"),
        ("tiktok", "demo_presidencia_tt", "demo_presidencia_tt"),
        ("youtube", "@demo_presidencia_envivo", "demo_presidencia_envivo"),
        ("youtube", "GobiernoDeMéxico", "GobiernoDeMéxico"),
        ("youtube", "gob-mx.oficial", "gob-mx.oficial"),
        ("linkedin", "gobierno-de-mexico", "gobierno-de-mexico"),
        ("whatsapp", "+525512345678", "+525512345678"),
        ("telegram", "GobiernoMX", "GobiernoMX"),
        ("bluesky", "@gobierno.bsky.social", "gobierno.bsky.social"),
        ("bluesky", "gob.mx", "gob.mx"),
        ("mastodon", "@gobierno@mastodon.social", "gobierno@mastodon.social"),
        ("other", "Gobierno.MX/oficial", "Gobierno.MX/oficial"),
    ],
)
def test_valid_handles_are_stored_trimmed(platform: Platform, raw: str, stored: str) -> None:
    assert parse_handle(platform, raw) == stored


@pytest.mark.parametrize(
    ("platform", "raw", "index", "code"),
    [
        ("x", "demo_pc_\u0430lertas", 8, "U+0430"),
        ("x", "demo_pc_\u200balertas", 8, "U+200B"),
        ("x", "\u202edemo_pc_alertas", 0, "U+202E"),
        ("x", "demo-pc", 4, "U+002D"),
        ("x", " @demo pc", 6, "U+0020"),  # the index counts in what was sent
        ("x", "demo.pc", 4, "U+002E"),
        ("facebook", "demo_asmr_comunicacion", 4, "U+005F"),
        ("instagram", "demo-imagen", 4, "U+002D"),
        ("tiktok", "demo tt", 4, "U+0020"),
        ("youtube", "\uff44emo", 0, "U+FF44"),  # fullwidth: a compatibility form
        ("youtube", "demo!", 4, "U+0021"),
        ("linkedin", "gobierno_mx", 8, "U+005F"),
        ("whatsapp", "+52 55 1234 5678", 3, "U+0020"),
        ("telegram", "gobierno-mx", 8, "U+002D"),
        ("bluesky", "gobierno_mx.bsky.social", 8, "U+005F"),
        ("other", "algo raro", 4, "U+0020"),
    ],
)
def test_a_character_the_platform_refuses_is_named(
    platform: Platform, raw: str, index: int, code: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_handle(platform, raw)
    extra = refused.value.extra
    assert (extra["field"], extra["index"], extra["character"]) == ("handle", index, code)
    assert extra["rule"] == "platform_syntax"
    assert f"{code} {extra['character_name']} at index {index}" in refused.value.detail


@pytest.mark.parametrize(
    ("platform", "raw", "says"),
    [
        ("x", "demo_asmr_noticias", "1 to 15 characters"),
        ("x", "demo_presidenta_smr", "1 to 15 characters"),
        ("x", "@", "1 to 15 characters"),
        ("x", "   ", "1 to 15 characters"),
        ("facebook", "demo", "5 to 50 characters"),
        ("instagram", "a" * 31, "1 to 30 characters"),
        ("tiktok", "a", "2 to 24 characters"),
        ("tiktok", "demo.", "cannot end with '.'"),
        ("youtube", "ab", "3 to 30 characters"),
        ("telegram", "gob", "5 to 32 characters"),
        ("telegram", "1gobierno", "starts with a letter"),
        ("telegram", "gobierno_", "cannot end with '_'"),
        ("whatsapp", "+52+5512345678", "8 to 15 digits"),
        ("bluesky", "gobierno", "domain name"),
        ("bluesky", "-gob.bsky.social", "domain name"),
        ("mastodon", "gobierno", "user@instance"),
        ("mastodon", "gobierno@", "user@instance"),
        ("mastodon", f"{'a' * 31}@mastodon.social", "user@instance"),
    ],
)
def test_length_and_shape_follow_the_platform(platform: Platform, raw: str, says: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_handle(platform, raw)
    assert says in refused.value.detail
    assert refused.value.extra["rule"] == "platform_syntax"


@pytest.mark.parametrize(
    ("platform", "one", "other"),
    [
        ("x", "demo_pc_alertas", "DEMO_PC_ALERTAS"),
        ("x", "demo_pc_alertas", "demo_pc_alertas "),
        ("x", "demo_pc_alertas", "@demo_pc_alertas"),
        ("x", "demo_pc_alertas", "  @Demo_Pc_Alertas\t"),
        ("youtube", "demo", "\uff44\uff45\uff4d\uff4f"),  # NFKC: fullwidth is the same handle
        ("youtube", "Straße", "STRASSE"),  # full case folding
        ("facebook", "john.smith55", "JohnSmith55"),  # Facebook: periods do not count
        ("whatsapp", "+525512345678", "525512345678"),
        ("mastodon", "Gob@Mastodon.Social", "gob@mastodon.social"),
    ],
)
def test_equivalent_handles_share_a_key(platform: str, one: str, other: str) -> None:
    assert handle_key(platform, one) == handle_key(platform, other)


@pytest.mark.parametrize(
    ("platform", "one", "other"),
    [
        ("x", "demo_pc_alertas", "demo_pc_\u0430lertas"),  # refused anyway, but not the same
        ("x", "demo.pc", "demopc"),  # only Facebook ignores periods
        ("instagram", "demo_pc", "demopc"),
    ],
)
def test_different_handles_have_different_keys(platform: str, one: str, other: str) -> None:
    assert handle_key(platform, one) != handle_key(platform, other)


@pytest.mark.parametrize(
    ("platform", "handle", "url"),
    [
        ("x", "gob", "https://x.com/gob"),
        ("x", "gob", "https://twitter.com/gob"),
        ("x", "gob", "https://mobile.twitter.com/gob"),
        ("x", "gob", " https://X.COM/gob "),
        ("facebook", "gob.mx", "https://www.facebook.com/gob.mx"),
        ("facebook", "gob.mx", "https://m.facebook.com/profile.php?id=100"),
        ("instagram", "gob", "https://www.instagram.com/gob/"),
        ("threads", "gob", "https://www.threads.net/@gob"),
        ("threads", "gob", "https://www.threads.com/@gob"),
        ("tiktok", "gob", "https://www.tiktok.com/@gob"),
        ("youtube", "gob", "https://www.youtube.com/@gob"),
        ("linkedin", "gob", "https://www.linkedin.com/company/gob"),
        ("whatsapp", "525512345678", "https://wa.me/525512345678"),
        ("telegram", "gobierno", "https://t.me/gobierno"),
        ("bluesky", "gob.mx", "https://bsky.app/profile/gob.mx"),
        ("mastodon", "gob@mastodon.social", "https://mastodon.social/@gob"),
        ("other", "gob", "https://red.ejemplo.mx/gob"),
    ],
)
def test_urls_on_the_platforms_domain_pass(platform: Platform, handle: str, url: str) -> None:
    assert check_account_url(platform, handle, url) == url.strip()


@pytest.mark.parametrize(
    ("platform", "handle", "url", "rule"),
    [
        ("x", "gob", "http://x.com/gob", "url"),
        ("x", "gob", "ftp://x.com/gob", "url"),
        ("x", "gob", "javascript:alert(1)", "url"),
        ("x", "gob", "https://", "url"),
        ("x", "gob", "https://x.com:99999/gob", "url"),
        ("x", "gob", "https://user@x.com/gob", "url"),
        ("x", "gob", "https://x.com@evil.example/gob", "url"),
        ("x", "gob", "https://evil.example/gob", "platform_domain"),
        ("x", "gob", "https://x.com.evil.example/gob", "platform_domain"),
        ("x", "gob", "https://notx.com/gob", "platform_domain"),
        ("x", "gob", "https://\u0445.com/gob", "platform_domain"),  # Cyrillic х
        ("facebook", "gob.mx", "https://www.instagram.com/gob.mx", "platform_domain"),
        ("mastodon", "gob@mastodon.social", "https://evil.social/@gob", "platform_domain"),
        ("other", "gob", "http://red.ejemplo.mx/gob", "url"),
    ],
)
def test_urls_elsewhere_are_refused(platform: Platform, handle: str, url: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_account_url(platform, handle, url)
    assert refused.value.extra == {"field": "url", "rule": rule}
