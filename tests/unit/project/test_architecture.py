"""The import rules of service/, as a test, so that the layering cannot rot.

The rules, in the order they are checked:

    domain     of service/ only domain, errors and clock; the standard library and pyotp
    kernel     errors, clock, principal and settings import nothing of service/
    adapters   db, vault and logs import only themselves and the kernel
    uow        only the kernel, db and audit.log
    app        imported by service.cli and service.http.openapi only
    hvac       imported under service.vault only
    features   domain, uow, db, vault, the kernel, runtime and audit.log; service.http from
               their controller only; of another feature anything but its controller,
               usecases and handlers; never two features both ways, nor around a cycle

Every ``import`` in service/** counts: at the top, inside a function or under
TYPE_CHECKING, since each one ties a module to another for the reader.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[3] / "service"

# Each top-level module or package of service/ has one place.
FEATURES = frozenset(
    {
        "accounts",
        "audit",
        "checkouts",
        "credentials",
        "departures",
        "directory",
        "documents",
        "gestores",
        "handovers",
        "incidents",
        "me",
        "rotations",
        "throttling",
        "tokens",
        "webhooks",
    }
)
KERNEL = frozenset({"domain", "errors", "clock", "principal", "settings"})
ADAPTERS = frozenset({"db", "vault", "logs", "http"})
WIRING = frozenset({"uow", "bus", "runtime", "app", "cli", "jobs", "demo", "devstack"})

# What a feature may import besides itself and other features' public modules.
FEATURE_MAY_IMPORT = (
    "service.domain",
    "service.uow",
    "service.db",
    "service.vault",
    "service.errors",
    "service.principal",
    "service.clock",
    "service.settings",
    "service.runtime",
    "service.audit.log",  # Entry: every feature records audit events
)
# Modules of a feature that no other feature imports: they answer HTTP, run the
# feature's own use cases, or react to events (wired by service.bus only).
FEATURE_PRIVATE = frozenset({"controller", "usecases", "handlers"})
# Third-party packages that domain/ may use: pure functions, no I/O.
# fontTools: the Unicode script data (TR39 mixed-script checks of handles and names).
DOMAIN_THIRD_PARTY = frozenset({"pyotp", "fontTools"})

# Imports that break the rules today, tolerated while the tree is converted (issue 11).
# Computed once from the tree as it stood; the lead removes pairs as branches land, and
# test_known_debt_is_still_owed says which to remove. Never add to it: fix the import.
KNOWN_DEBT: frozenset[tuple[str, str]] = frozenset(
    {
        # A controller that is not named controller.py (the integrity routes).
        ("service.audit.integrity", "service.http.auth"),
        # A check-in with a new password writes it through credentials' one path.
        ("service.checkouts.usecases", "service.credentials.usecases"),
        # `custodia dev` serves the app it starts.
        ("service.devstack.run", "service.app"),
        # DeadlinePolicy.from_settings reads Settings (under TYPE_CHECKING only).
        ("service.domain.rotation", "service.settings"),
        # Issuing a gestor's token and confirming a gestor's own TOTP use the owner's
        # use case; both are one-way, neither feature imports the other back.
        ("service.gestores.controller", "service.tokens.usecases"),
        ("service.me.usecases", "service.gestores.usecases"),
        # Throttling is HTTP middleware that lives as a feature (its own table).
        ("service.throttling.middleware", "service.http.auth"),
        ("service.throttling.middleware", "service.http.problems"),
    }
)


@dataclass(frozen=True)
class Module:
    """A module of service/: its dotted name and its source."""

    name: str
    source: str
    is_package: bool = False


@dataclass(frozen=True, order=True)
class Violation:
    importer: str
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.importer} -> {self.imported}: {self.rule}"


def within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(f"{p}.") for p in prefixes)


def part(name: str) -> str:
    """The top-level module or package of service/ that ``name`` belongs to."""
    return name.split(".")[1] if name.startswith("service.") else ""


def feature(name: str) -> str | None:
    top = part(name)
    return top if top in FEATURES else None


@cache
def import_nodes(source: str) -> list[ast.Import | ast.ImportFrom]:
    """The import statements of a source, parsed once for all the tests here."""
    nodes = ast.walk(ast.parse(source))
    return [node for node in nodes if isinstance(node, ast.Import | ast.ImportFrom)]


def imports(module: Module, known: frozenset[str]) -> Iterator[str]:
    """Every module ``module`` imports, relative imports resolved, submodules preferred."""
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    for node in import_nodes(module.source):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0]
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                yield submodule if submodule in known else target


def rule_of_feature(importer: str, imported: str) -> str | None:
    """What a feature may import of service/, or None when allowed."""
    own = feature(importer)
    other = feature(imported)
    if own is None or other == own or within(imported, *FEATURE_MAY_IMPORT):
        return None
    if within(imported, "service.http"):
        if importer.rpartition(".")[2] == "controller":
            return None
        return "only a feature's controller imports service.http"
    if other is None:
        return "a feature imports only domain, uow, db, vault, kernel, runtime and audit.log"
    if imported.rpartition(".")[2] in FEATURE_PRIVATE:
        return f"a feature never imports another feature's {imported.rpartition('.')[2]}"
    return None


def rule_of_service(importer: str, imported: str) -> str | None:
    """The table, read top to bottom: the first rule that refuses the import names itself."""
    top = part(importer)
    if top == "domain" and not within(
        imported, "service.domain", "service.errors", "service.clock"
    ):
        return "domain imports only domain, errors and clock"
    if top in KERNEL - {"domain"} and part(imported) != top:
        return "errors, clock, principal and settings import nothing of service"
    if top in ADAPTERS - {"http"} and part(imported) not in KERNEL | {top}:
        return "db, vault and logs import only themselves and the kernel"
    if top == "uow" and not (
        part(imported) in KERNEL | {"db"} or within(imported, "service.audit.log")
    ):
        return "the unit of work imports only the kernel, db and audit.log"
    if imported == "service.app" and importer not in ("service.cli", "service.http.openapi"):
        return "only service.cli and service.http.openapi import service.app"
    return rule_of_feature(importer, imported)


def rule_of_library(importer: str, library: str) -> str | None:
    if library == "hvac" and part(importer) != "vault":
        return "only service.vault imports hvac"
    if part(importer) == "domain" and library not in sys.stdlib_module_names | DOMAIN_THIRD_PARTY:
        return "domain imports the standard library and pure helpers only"
    return None


def edges(modules: Iterable[Module]) -> set[tuple[str, str]]:
    """(importer, imported) for every import, service/ modules and libraries alike."""
    modules = list(modules)
    known = frozenset(m.name for m in modules)
    return {(m.name, target) for m in modules for target in imports(m, known) if target}


def feature_cycles(found: set[tuple[str, str]]) -> Iterator[Violation]:
    """Edges between features that import each other, directly or around a cycle."""
    graph: dict[str, set[str]] = {}
    between = []
    for importer, imported in found:
        a, b = feature(importer), feature(imported)
        if a and b and a != b and not within(imported, "service.audit.log"):
            graph.setdefault(a, set()).add(b)
            between.append((importer, imported, a, b))
    for importer, imported, a, b in between:
        if a in graph.get(b, set()):
            yield Violation(importer, imported, f"features {a} and {b} import each other")
        elif a in reachable(graph, b):
            yield Violation(importer, imported, f"features {a} and {b} are on an import cycle")


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), set()) - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def violations(modules: Iterable[Module]) -> set[Violation]:
    found = edges(modules)
    broken = set(feature_cycles(found))
    for importer, imported in found:
        if imported == "service":
            continue
        if imported.startswith("service."):
            rule = rule_of_service(importer, imported)
        else:
            rule = rule_of_library(importer, imported.split(".")[0])
        if rule:
            broken.add(Violation(importer, imported, rule))
    return broken


def service_modules(root: Path = SERVICE) -> list[Module]:
    modules = []
    for path in sorted(root.rglob("*.py")):
        parts = ["service", *path.relative_to(root).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        modules.append(Module(name, path.read_text(encoding="utf-8"), is_package))
    return modules


def unexpected(modules: Iterable[Module]) -> list[Violation]:
    return sorted(v for v in violations(modules) if (v.importer, v.imported) not in KNOWN_DEBT)


def test_every_part_of_service_has_a_place() -> None:
    tops = {part(m.name) for m in service_modules()} - {""}
    places = [FEATURES, KERNEL, ADAPTERS, WIRING]
    unplaced = sorted(t for t in tops if sum(t in p for p in places) != 1)
    assert not unplaced, f"name each in one of FEATURES, KERNEL, ADAPTERS, WIRING: {unplaced}"


def test_service_keeps_the_import_rules() -> None:
    broken = unexpected(service_modules())
    assert not broken, "forbidden imports:\n" + "\n".join(map(str, broken))


def test_known_debt_is_still_owed() -> None:
    owed = {(v.importer, v.imported) for v in violations(service_modules())}
    paid = sorted(KNOWN_DEBT - owed)
    assert not paid, f"these imports are gone or allowed now; remove them from KNOWN_DEBT: {paid}"


def fake(name: str, source: str = "") -> Module:
    return Module(name, source)


def rules_of(*modules: Module) -> set[tuple[str, str, str]]:
    return {(v.importer, v.imported, v.rule) for v in violations(modules)}


# Modules the cases below import by `from package import module`, so that it resolves.
STUBS = [fake(f"service.{name}") for name in ("tokens.controller", "gestores.usecases", "jobs")]
# One forbidden import per rule: importer, its source, what it imports, words of the rule.
FORBIDDEN = {
    "domain-library": ("service.domain.accounts", "import sqlalchemy", "sqlalchemy", "standard"),
    "domain-service": ("service.domain.custody", "import service.runtime", "service.runtime", ""),
    "hvac": ("service.checkouts.grant", "def f():\n import hvac.errors", "hvac.errors", "hvac"),
    "controller": (
        "service.gestores.usecases",
        "from ..tokens import controller",
        "service.tokens.controller",
        "controller",
    ),
    "usecases": (
        "service.me.usecases",
        "from service.gestores import usecases",
        "service.gestores.usecases",
        "usecases",
    ),
    "http": (
        "service.tokens.usecases",
        "from service.http.auth import Rt",
        "service.http.auth",
        "controller",
    ),
    "app": (
        "service.jobs.schedule",
        "from service.app import create_app",
        "service.app",
        "service.cli",
    ),
    "wiring": (
        "service.checkouts.grant",
        "from service import jobs",
        "service.jobs",
        "only domain",
    ),
    "adapter": (
        "service.db.models",
        "from service.accounts.repository import A",
        "service.accounts.repository",
        "kernel",
    ),
    "kernel": (
        "service.clock",
        "from service.settings import Settings",
        "service.settings",
        "nothing",
    ),
    "uow": ("service.uow", "from service.bus import HANDLERS", "service.bus", "only the kernel"),
}


@pytest.mark.parametrize(
    ("importer", "source", "imported", "words"), FORBIDDEN.values(), ids=FORBIDDEN
)
def test_a_forbidden_import_is_reported(
    importer: str, source: str, imported: str, words: str
) -> None:
    found = rules_of(fake(importer, source), *STUBS)
    assert any((i, m) == (importer, imported) and words in r for i, m, r in found), found


def test_features_importing_each_other_are_reported() -> None:
    found = rules_of(
        fake("service.accounts.repository", "from service.gestores.repository import G"),
        fake("service.gestores.repository", "from ..accounts import repository"),
    )
    rule = "features gestores and accounts import each other"
    assert ("service.gestores.repository", "service.accounts.repository", rule) in found


def test_an_import_cycle_between_features_is_reported() -> None:
    found = rules_of(
        fake("service.accounts.a", "import service.gestores.b"),
        fake("service.gestores.b", "import service.tokens.c"),
        fake("service.tokens.c", "if TYPE_CHECKING:\n    from service.accounts.a import A"),
    )
    rule = "features tokens and accounts are on an import cycle"
    assert ("service.tokens.c", "service.accounts.a", rule) in found


def test_allowed_imports_are_not_reported() -> None:
    modules = [
        fake("service.me.usecases", "from service.gestores.repository import G\nimport pyotp"),
        fake("service.gestores.repository", "from service.uow import UnitOfWork"),
        fake("service.me.controller", "from service.http.auth import Rt\nfrom . import usecases"),
        fake("service.checkouts.grant", "from service.audit.log import Entry\nimport sqlalchemy"),
        fake("service.audit.chain", "from service.checkouts import grant"),
        fake("service.domain.totp", "import hmac\nimport pyotp\nfrom .accounts import Account"),
        fake("service.vault.client", "import hvac\nfrom service.errors import VaultDown"),
        fake("service.cli", "from service.app import create_app"),
        fake("service.bus", "from service.checkouts import handlers"),
    ]
    assert rules_of(*modules) == set()


def test_known_debt_does_not_hide_a_new_forbidden_import() -> None:
    tree = service_modules()
    # Two features neither of which imports the other: the one new pair is all it reports.
    added = fake("service.webhooks.export", "from service.directory.controller import C")
    new = set(unexpected([*tree, added])) - set(unexpected(tree))
    assert {(v.importer, v.imported) for v in new} == {
        ("service.webhooks.export", "service.directory.controller")
    }
