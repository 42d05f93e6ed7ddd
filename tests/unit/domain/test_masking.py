"""Masking of recovery channels."""

from __future__ import annotations

import pytest

from service.domain.masking import mask_channel, mask_email, mask_phone


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("cuenta@dominio.gob.mx", "c••••@dominio.gob.mx"),
        ("a@b.mx", "a••••@b.mx"),
        ("comunicacion.social@sep.gob.mx", "c••••@sep.gob.mx"),
        ("  cuenta@dominio.gob.mx ", "c••••@dominio.gob.mx"),
        ("sin-arroba", "••••"),
        ("@dominio.gob.mx", "••••"),
        ("cuenta@", "••••"),
        (None, None),
    ],
)
def test_mask_email(value: str | None, masked: str | None) -> None:
    assert mask_email(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("5512345678", "••••••5678"),
        ("+52 55 1234 5678", "••••••5678"),
        ("(55) 1234-5678", "••••••5678"),
        ("12345", "••••••45"),
        ("123", "••••••"),
        ("", "••••••"),
        (None, None),
    ],
)
def test_mask_phone(value: str | None, masked: str | None) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("cuenta@dominio.gob.mx", "c••••@dominio.gob.mx"),
        ("+52 55 1234 5678", "••••••5678"),
        (None, None),
    ],
)
def test_mask_channel(value: str | None, masked: str | None) -> None:
    assert mask_channel(value) == masked


@pytest.mark.parametrize("value", ["cuenta@dominio.gob.mx", "+52 55 1234 5678", "5512345678"])
def test_mask_hides_most_of_the_value(value: str) -> None:
    masked = mask_channel(value)
    assert masked is not None
    assert masked != value
    assert "cuenta" not in masked
    assert "1234" not in masked
