"""The vendored Swagger UI is the version and the bytes its README names, licence included."""

from __future__ import annotations

import hashlib
import re

from service.http.schema_ui import ASSETS_DIR, MEDIA_TYPES, SWAGGER_UI_VERSION

README = (ASSETS_DIR / "README.md").read_text(encoding="utf-8")


def test_every_vendored_file_has_the_hash_the_readme_records() -> None:
    recorded = dict(re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|$", README, re.MULTILINE))
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"} <= recorded.keys()
    for name, digest in recorded.items():
        assert hashlib.sha256((ASSETS_DIR / name).read_bytes()).hexdigest() == digest, name


def test_the_readme_names_the_version_the_code_names() -> None:
    assert f"`swagger-ui-dist` **{SWAGGER_UI_VERSION}**" in README


def test_every_served_name_is_a_file_of_the_folder() -> None:
    assert all((ASSETS_DIR / name).is_file() for name in MEDIA_TYPES)
    assert "Apache License" in (ASSETS_DIR / "LICENSE").read_text(encoding="utf-8")
