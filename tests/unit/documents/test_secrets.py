"""No document can carry a secret: no field for one, and canaries never surface."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import typing
from typing import Any

import pypdf
import pytest

from service.demo.sample import sample_acta, sample_directory, sample_protocol
from service.directory.document import directory_csv, directory_to_json
from service.documents import content
from service.documents.acta import acta_to_json, build_acta
from service.documents.markdown import render_markdown
from service.documents.pdf import render_pdf
from service.documents.protocol import build_protocol, protocol_to_json
from service.domain.masking import mask_channel

SECRETISH = re.compile(r"password|contrase|secret|seed|semilla|token|backup|codes|totp_", re.I)

# What Vault holds for an account, as the data layer would read it.
VAULT_RECORD: dict[str, str] = {
    "username": "canary-user-7Q2",
    "password": "CANARY-PASSWORD-a8f3e9",
    "totp_secret": "JBSWY3DPCANARYSEED",
    "backup_codes": "CANARY-BACKUP-1111 CANARY-BACKUP-2222",
    "recovery_email": "canarylocal@santamariadelrio.gob.mx",
    "recovery_phone": "+52 444 987 6543",
    "notes": "CANARY-NOTE pin del cajón",
}
CANARIES = (
    "canary-user-7Q2",
    "CANARY-PASSWORD-a8f3e9",
    "JBSWY3DPCANARYSEED",
    "CANARY-BACKUP",
    "canarylocal",
    "9876543",
    "987 6543",
    "CANARY-NOTE",
)


def content_classes() -> list[type[Any]]:
    return [
        obj
        for obj in vars(content).values()
        if isinstance(obj, type) and dataclasses.is_dataclass(obj)
    ]


def json_keys(obj: Any) -> set[str]:
    if isinstance(obj, dict):
        return set(obj) | {k for v in obj.values() for k in json_keys(v)}
    if isinstance(obj, list):
        return {k for v in obj for k in json_keys(v)}
    return set()


@pytest.mark.parametrize("cls", content_classes(), ids=lambda c: c.__name__)
def test_no_content_class_has_a_field_for_a_secret(cls: type[Any]) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    assert not [n for n in names if SECRETISH.search(n)], names
    hints = typing.get_type_hints(cls)
    assert all("bytes" not in str(h) for h in hints.values())


def test_content_classes_refuse_secret_keywords() -> None:
    with pytest.raises(TypeError):
        content.CustodyAccount(  # type: ignore[call-arg]
            "x",
            "@a",
            "https://x.com/a",
            "Área",
            "oficial",
            True,
            "TOTP",
            password=VAULT_RECORD["password"],
        )


def test_unmasked_recovery_channel_is_refused() -> None:
    with pytest.raises(ValueError, match="masked"):
        content.CustodyAccount(
            "x",
            "@a",
            "https://x.com/a",
            "Área",
            "oficial",
            True,
            "TOTP",
            recovery_channels=(VAULT_RECORD["recovery_email"],),
        )


def outputs_with_vault_record() -> list[str]:
    """Every format, built the way the data layer must: masked channels, no secrets."""
    channels = tuple(
        m
        for m in map(mask_channel, (VAULT_RECORD["recovery_email"], VAULT_RECORD["recovery_phone"]))
        if m
    )
    p = sample_protocol(accounts=3, gestores=2)
    account = dataclasses.replace(p.accounts[0], recovery_channels=channels)
    p = dataclasses.replace(p, accounts=(account, *p.accounts[1:]))
    a = sample_acta(accounts=3)
    row = dataclasses.replace(a.annex[0], recovery_channels=channels)
    a = dataclasses.replace(a, annex=(row, *a.annex[1:]))
    texts = []
    for doc in (build_protocol(p), build_acta(a)):
        texts.append(render_markdown(doc))
        pages = pypdf.PdfReader(io.BytesIO(render_pdf(doc))).pages
        texts.append(" ".join(page.extract_text() for page in pages))
    texts.append(json.dumps(protocol_to_json(p), ensure_ascii=False))
    texts.append(json.dumps(acta_to_json(a), ensure_ascii=False))
    texts.append(directory_csv(sample_directory(5), show_gestores=True).decode("utf-8-sig"))
    return texts


def test_canaries_never_appear_in_any_format() -> None:
    texts = outputs_with_vault_record()
    joined = "\n".join(texts)
    assert "c••••@santamariadelrio.gob.mx" in joined.replace(" ", "")  # the mask did reach it
    assert "••••••6543" in joined
    for canary in CANARIES:
        assert canary not in joined, canary
        assert canary not in joined.replace(" ", "").replace("\n", ""), canary


def test_json_shapes_have_no_secret_keys() -> None:
    shapes = [
        protocol_to_json(sample_protocol(accounts=3, gestores=2)),
        acta_to_json(sample_acta(accounts=3)),
        {"rows": directory_to_json(sample_directory(3), show_gestores=True)},
    ]
    for shape in shapes:
        keys = json_keys(shape)
        assert keys, shape
        assert not [k for k in keys if SECRETISH.search(k)], keys


def test_directory_json_has_no_contact_data() -> None:
    text = json.dumps(directory_to_json(sample_directory(30), show_gestores=True))
    assert "@santamariadelrio.gob.mx" not in text
    assert "+52" not in text
