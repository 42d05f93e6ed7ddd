"""The wheel carries everything Custodia needs; the lock and the image agree with it.

A non-editable install, outside the checkout, must find its migrations and Vault
policies through importlib.resources and bring a database to head.
"""

from __future__ import annotations

import os
import re
import shutil
import site
import sqlite3
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from alembic.script import ScriptDirectory
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[3]
# What the wheel is built from: the same files the Dockerfile copies into its build stage.
SOURCES = ("pyproject.toml", "README.md", "service", "migrations", "vault_policies")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def build_wheel(tmp_path: Path) -> Path:
    """``pip wheel --no-deps`` on a clean copy of the sources (no stale build/ of the checkout)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
        else:
            shutil.copy(ROOT / name, src / name)
    dist = tmp_path / "dist"
    pip = (sys.executable, "-m", "pip")
    run(*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist, src, cwd=tmp_path)
    (wheel,) = dist.glob("custodia-*.whl")
    return wheel


def venv_with_wheel(tmp_path: Path, wheel: Path) -> Path:
    """A venv holding only the wheel; this environment's packages are reachable, not the checkout.

    The ``.pth`` line puts our site-packages on ``sys.path`` without running the ``.pth``
    files in it, so the editable install's finder (which maps to the checkout) stays out.
    """
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    pip = (sys.executable, "-m", "pip", "--python", python)
    run(*pip, "install", "-q", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=venv)
    Path(purelib.strip(), "dependencies.pth").write_text(
        "\n".join(site.getsitepackages()) + "\n", encoding="utf-8"
    )
    return venv


def clean_env() -> dict[str, str]:
    """This process's environment without anything that could point back at the checkout."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CUSTODIA_", "PYTHON", "VIRTUAL_ENV"))
    }


def test_dockerfile_builds_from_the_same_sources_and_installs_no_checkout() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    copied = {
        word.rstrip("/")
        for line in dockerfile.splitlines()
        if line.startswith("COPY ") and "--from=" not in line
        for word in line.split()[1:-1]
    }
    assert set(SOURCES) <= copied
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert installs
    assert not [line for line in installs if re.search(r"\s(-e|--editable)\s", line)]
    # Dependencies come from the lock; only the wheel built in the image skips it.
    assert all("--require-hashes" in line or "--no-deps" in line for line in installs)
    assert "requirements/base.txt" in dockerfile


@pytest.mark.slow
def test_installed_wheel_migrates_outside_the_checkout(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = [
        *(ROOT / "migrations").glob("*.py"),
        *(ROOT / "migrations" / "versions").glob("*.py"),
        ROOT / "migrations" / "script.py.mako",
        *(ROOT / "vault_policies").glob("*.hcl"),
    ]
    missing = {p.relative_to(ROOT).as_posix() for p in shipped} - names
    assert not missing, f"not in the wheel: {sorted(missing)}"

    venv = venv_with_wheel(tmp_path, wheel)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    database = elsewhere / "data" / "custodia.db"
    env = {**clean_env(), "CUSTODIA_DATABASE_URL": f"sqlite+aiosqlite:///{database}"}

    where = run(
        venv / "bin" / "python",
        "-c",
        "import migrations, service\n"
        "from service.db.migrate import migrations_dir\n"
        "from service.devstack.bootstrap import installed_policies_dir\n"
        "from service.devstack.run import default_policies_dir\n"
        "print(service.__file__, migrations.__file__, migrations_dir(),"
        " installed_policies_dir(), default_policies_dir(), sep='\\n')",
        cwd=elsewhere,
        env=env,
    )
    for path in where.split():
        assert Path(path).resolve().is_relative_to(venv.resolve()), where

    assert "database at head" in run(venv / "bin" / "custodia", "migrate", cwd=elsewhere, env=env)
    with sqlite3.connect(database) as db:
        (version,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    assert [version] == ScriptDirectory(str(ROOT / "migrations")).get_heads()


def locked(name: str) -> dict[str, str]:
    """Package name to pinned version in ``requirements/<name>.txt``."""
    text = (ROOT / "requirements" / f"{name}.txt").read_text(encoding="utf-8")
    pins = re.findall(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", text, flags=re.MULTILINE)
    return {canonicalize_name(package): version for package, version in pins}


def wanted(lock: str) -> list[str]:
    """What pyproject.toml asks of a locked set; each builds the checkout without isolation."""
    project = PYPROJECT["project"]
    extra = project["optional-dependencies"].get(lock, [])
    return [*project["dependencies"], *extra, *PYPROJECT["build-system"]["requires"]]


@pytest.mark.parametrize("lock", ["base", "local", "dev"])
def test_lock_satisfies_pyproject(lock: str) -> None:
    pins = locked(lock)
    stale = []
    for line in wanted(lock):
        requirement = Requirement(line)
        version = pins.get(canonicalize_name(requirement.name))
        if version is None or version not in requirement.specifier:
            stale.append(f"{line} (locked: {version})")
    assert not stale, f"run `make lock`: requirements/{lock}.txt misses {stale}"


def test_every_lock_pins_the_same_versions() -> None:
    dev = locked("dev")
    for name in ("base", "local"):
        differ = {p: v for p, v in locked(name).items() if dev.get(p) != v}
        assert not differ, f"requirements/{name}.txt disagrees with dev.txt: {differ}"


def commit_subject_pattern() -> re.Pattern[str]:
    """The commit-msg hook's regex, compiled as pre-commit's pygrep does with --multiline."""
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    (hook,) = [hook for hook in hooks if hook["id"] == "commit-subject-length"]
    assert hook["language"] == "pygrep"
    assert hook["args"] == ["--multiline"]
    assert hook["stages"] == ["commit-msg"]
    return re.compile(hook["entry"], re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize(
    ("message", "refused"),
    [
        ("x" * 72 + "\n\n" + "body " * 40, False),
        ("x" * 73 + "\n\nbody\n", True),
        ("x" * 73, True),
        ("Short subject\n" + "y" * 100 + "\n", False),
    ],
    ids=["72-chars", "73-chars", "73-no-body", "long-body-line"],
)
def test_commit_subject_hook(message: str, refused: bool) -> None:
    assert (commit_subject_pattern().search(message) is not None) is refused
