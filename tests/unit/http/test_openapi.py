"""openapi.yaml is generated from the app; any drift fails here."""

from __future__ import annotations

from service.http.openapi import openapi_yaml
from tests.support.apps import ROOT


def test_openapi_yaml_matches_the_app() -> None:
    committed = (ROOT / "openapi.yaml").read_text(encoding="utf-8")
    assert committed == openapi_yaml(), "openapi.yaml drifted: run `make openapi`"


# Statuses each operation must document beyond the shared ones: a handler that
# stops declaring its own errors, or a shared rule that stops applying, fails here.
EXPECTED = {
    ("get", "/healthz"): {"500"},
    ("get", "/readyz"): {"500", "503"},
    ("get", "/v1/public/directory"): {"400", "500"},
    ("post", "/v1/accounts/{account_id}/checkouts"): {
        "400", "401", "403", "404", "409", "413", "415", "422", "423", "500", "503"
    },
    ("put", "/v1/accounts/{account_id}/credential"): {"401", "403", "404", "409", "422", "503"},
    ("post", "/v1/me/totp/confirm"): {"401", "409", "423"},
    ("delete", "/v1/tokens/{token_id}"): {"401", "403", "404", "409"},
    ("post", "/v1/handovers/{handover_id}/close"): {"404", "409"},
    ("get", "/v1/audit/events"): {"400", "401", "403"},
}  # fmt: skip


def test_operations_document_their_own_errors() -> None:
    import yaml

    paths = yaml.safe_load(openapi_yaml())["paths"]
    for (method, path), expected in EXPECTED.items():
        documented = {code for code in paths[path][method]["responses"] if code[0] in "45"}
        if path in ("/healthz", "/readyz", "/v1/public/directory"):
            assert documented == expected, (method, path, documented)
        else:
            assert expected <= documented, (method, path, expected - documented)


def test_every_authenticated_operation_documents_401_and_403() -> None:
    import yaml

    for path, operations in yaml.safe_load(openapi_yaml())["paths"].items():
        if path.startswith(("/healthz", "/readyz", "/metrics", "/schema", "/v1/public/")):
            continue
        for method, operation in operations.items():
            assert {"401", "403"} <= set(operation["responses"]), (method, path)
