"""The tests mirror the source (tests/README.md): where a test lives, and what it may import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.apps import ROOT

TESTS = ROOT / "tests"
# What a test module may import from tests/: the shared support, never another test module.
SHARED = ("tests.support", "tests.bao_server")
# Fixtures that start OpenBao or open a database: an api/ test's, never a unit/ test's.
STACK_FIXTURES = {"bao", "approle", "database_url", "settings", "client", "make_client"}


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, relative imports resolved, ``from a import b`` as a.b."""
    package = module_name(path).rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def is_shared(module: str) -> bool:
    return any(module == shared or module.startswith(f"{shared}.") for shared in SHARED)


TEST_MODULES = sorted(
    p for p in TESTS.rglob("*.py") if p.name.startswith("test_") or p.name == "conftest.py"
)
SUPPORT_MODULES = sorted((TESTS / "support").rglob("*.py"))


def test_there_is_something_to_check() -> None:
    assert len(TEST_MODULES) > 50 and SUPPORT_MODULES
    assert imports_of(TESTS / "conftest.py") >= {"tests.support.apps", "tests.bao_server"}


@pytest.mark.parametrize(
    "path", [*TEST_MODULES, *SUPPORT_MODULES], ids=lambda p: str(p.relative_to(TESTS))
)
def test_no_module_imports_a_test_module(path: Path) -> None:
    """Shared code lives in tests/support; a test module importing another one hides it."""
    from_tests = {m for m in imports_of(path) if m == "tests" or m.startswith("tests.")}
    assert {m for m in from_tests if m != "tests" and not is_shared(m)} == set()


@pytest.mark.parametrize(
    "path", [p for p in TEST_MODULES if p.name != "conftest.py"], ids=lambda p: p.name
)
def test_each_test_sits_in_unit_or_api_under_an_area(path: Path) -> None:
    kind, area, *rest = path.relative_to(TESTS).parts
    assert kind in ("unit", "api") and area.isidentifier() and len(rest) == 1, path
    assert (path.parent / "__init__.py").exists(), "a package: basenames may repeat"


@pytest.mark.parametrize(
    "path", [p for p in TEST_MODULES if p.parts[len(TESTS.parts)] == "unit"], ids=lambda p: p.name
)
def test_unit_tests_need_no_openbao_and_no_database(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names = {arg.arg for arg in node.args.args}
            assert not names & STACK_FIXTURES, (node.name, names & STACK_FIXTURES)
