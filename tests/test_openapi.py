"""openapi.yaml is generated from the app; any drift fails here."""

from __future__ import annotations

from pathlib import Path

from service.openapi import openapi_yaml

ROOT = Path(__file__).resolve().parents[1]


def test_openapi_yaml_matches_the_app() -> None:
    committed = (ROOT / "openapi.yaml").read_text(encoding="utf-8")
    assert committed == openapi_yaml(), "openapi.yaml drifted: run `make openapi`"


def test_every_operation_documents_its_errors() -> None:
    import yaml

    document = yaml.safe_load(openapi_yaml())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path in ("/healthz", "/metrics") or path.startswith("/schema"):
                continue
            codes = set(operation["responses"])
            assert any(code.startswith(("4", "5")) for code in codes), (method, path)
