"""The versions the project states are the versions it needs.

Python: ``requires-python``, ruff's ``target-version`` and mypy's ``python_version`` name the
same minimum, and every third-party package the code imports is declared. Rust: every crate
inherits the workspace's ``rust-version``, which is at least every dependency's (as ``cargo
metadata`` reports them) and at least the newest standard-library API the code calls. A
``cargo +<rust-version> check`` runs when that toolchain is installed (it is not on the
project's machines, which carry the current stable only: ``rustup toolchain list``).

Planted defects each check catches: ``requires-python = ">=3.10"`` against mypy's 3.11 (the
state before this test); a crate without ``rust-version.workspace = true`` (cargo metadata then
reports null for it); ``rust-version = "1.80"`` under pyo3 0.30's 1.85; ``torch`` imported by
lobzero.models but declared nowhere. :func:`test_the_checks_catch_the_old_declarations` runs
the Python checks on the old declarations.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

#: standard-library APIs of Rust the code uses, with the release that stabilised them
RUST_APIS = {
    r"\.is_multiple_of\(": "1.87",
    r"\.is_none_or\(": "1.82",
    r"repeat_n\(": "1.82",
    r"LazyLock": "1.80",
    r"OnceLock": "1.70",
    r"\.div_ceil\(": "1.73",
}


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def python_versions(pyproject: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """The minimum Python each tool is told about, as (3, 11)."""
    requires = pyproject["project"]["requires-python"]
    assert re.fullmatch(r">=\s*3\.\d+", requires), f"requires-python {requires!r} is not >=3.N"
    target = pyproject["tool"]["ruff"]["target-version"]
    return {
        "requires-python": version_tuple(requires),
        "ruff target-version": (int(target[2]), int(target[3:])),
        "mypy python_version": version_tuple(pyproject["tool"]["mypy"]["python_version"]),
    }


def check_python_versions(pyproject: dict[str, Any]) -> None:
    versions = python_versions(pyproject)
    assert len(set(versions.values())) == 1, versions
    # the features the code needs: tomllib, typing.Self, datetime.UTC are 3.11
    assert versions["requires-python"] >= (3, 11), versions


def declared_distributions(pyproject: dict[str, Any]) -> set[str]:
    project = pyproject["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    return {re.split(r"[\s<>=!~;\[]", s, maxsplit=1)[0].lower().replace("_", "-") for s in specs}


def imported_distributions() -> dict[str, str]:
    """distribution -> a file of python/lobzero importing it (top-level or lazy imports)."""
    owners = importlib.metadata.packages_distributions()
    found: dict[str, str] = {}
    for path in sorted((ROOT / "python" / "lobzero").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "lobzero":
                    continue
                for dist in owners.get(top, [top]):
                    found.setdefault(dist.lower().replace("_", "-"), str(path.relative_to(ROOT)))
    return found


def check_imports_declared(pyproject: dict[str, Any]) -> None:
    missing = {
        d: f
        for d, f in imported_distributions().items()
        if d not in declared_distributions(pyproject)
    }
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_python_versions_agree() -> None:
    check_python_versions(PYPROJECT)


def test_every_imported_package_is_declared() -> None:
    check_imports_declared(PYPROJECT)


def test_torch_is_declared_at_the_version_tested() -> None:
    (spec,) = [s for s in PYPROJECT["project"]["optional-dependencies"]["rl"] if "torch" in s]
    lowest = version_tuple(spec)
    assert version_tuple(importlib.metadata.version("torch")) >= lowest


def test_the_checks_catch_the_old_declarations() -> None:
    old = json.loads(json.dumps(PYPROJECT))
    old["project"]["requires-python"] = ">=3.10"
    old["tool"]["ruff"]["target-version"] = "py310"
    with pytest.raises(AssertionError):
        check_python_versions(old)
    old = json.loads(json.dumps(PYPROJECT))
    old["project"]["optional-dependencies"]["rl"] = [
        s for s in old["project"]["optional-dependencies"]["rl"] if not s.startswith("torch")
    ]
    with pytest.raises(AssertionError, match="torch"):
        check_imports_declared(old)


# ---------------------------------------------------------------- Rust


@pytest.fixture(scope="module")
def cargo_metadata() -> dict[str, Any]:
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not installed")
    out = subprocess.run(
        [cargo, "metadata", "--format-version", "1", "--offline", "--locked"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def workspace_rust_version() -> str:
    return tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["rust-version"]


def test_every_crate_states_the_workspace_rust_version(cargo_metadata: dict[str, Any]) -> None:
    members = set(cargo_metadata["workspace_members"])
    crates = {
        p["name"]: p["rust_version"] for p in cargo_metadata["packages"] if p["id"] in members
    }
    assert crates and set(crates.values()) == {workspace_rust_version()}, crates


def test_rust_version_covers_every_dependency(cargo_metadata: dict[str, Any]) -> None:
    ours = version_tuple(workspace_rust_version())
    members = set(cargo_metadata["workspace_members"])
    newer = {
        f"{p['name']} {p['version']}": p["rust_version"]
        for p in cargo_metadata["packages"]
        if p["id"] not in members and p["rust_version"] and version_tuple(p["rust_version"]) > ours
    }
    assert not newer, f"dependencies needing a newer Rust than {workspace_rust_version()}: {newer}"


def test_rust_version_covers_the_std_apis_used() -> None:
    ours = version_tuple(workspace_rust_version())
    sources = "\n".join(p.read_text() for p in (ROOT / "rust").rglob("*.rs"))
    needed = {api: v for api, v in RUST_APIS.items() if re.search(api, sources)}
    assert needed, "none of the listed APIs found: the table is stale"
    assert all(version_tuple(v) <= ours for v in needed.values()), (needed, ours)


def test_the_stated_toolchain_builds_the_workspace() -> None:
    rustup = shutil.which("rustup")
    if rustup is None:
        pytest.skip("rustup is not installed")
    version = workspace_rust_version()
    listed = subprocess.run([rustup, "toolchain", "list"], capture_output=True, text=True).stdout
    if not any(
        line.startswith(f"{version}-") or line.startswith(f"{version}.0-")
        for line in listed.splitlines()
    ):
        pytest.skip(f"the Rust {version} toolchain is not installed (rustup toolchain list)")
    subprocess.run(
        ["cargo", f"+{version}", "check", "--workspace", "--offline"], cwd=ROOT, check=True
    )
