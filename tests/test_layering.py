"""The dependency rule of the layout, checked over the source tree.

    mibo.core       → nothing of ours
    mibo.domain     → core
    mibo.providers  → core
    mibo.api        → core, domain, providers, schemas
    jobs            → core, domain, providers (never api)
    schemas         → nothing of ours

The command line (mibo.cli, mibo.__main__) and the demo seed may use every layer: they are
surfaces that start the others.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

ALLOWED = {
    "mibo.core": {"mibo.core"},
    "mibo.domain": {"mibo.core", "mibo.domain"},
    "mibo.providers": {"mibo.core", "mibo.providers"},
    "mibo.api": {"mibo.core", "mibo.domain", "mibo.providers", "mibo.api", "schemas"},
    "jobs": {"mibo.core", "mibo.domain", "mibo.providers", "jobs"},
    "schemas": {"schemas"},
}
SURFACES = {"mibo", "mibo.cli", "mibo.__main__", "mibo.seed"}
OURS = ("mibo", "jobs", "schemas")
PACKAGE_ITSELF = {"mibo", "mibo.__version__", "jobs", "schemas"}


def layer_of(module: str) -> str | None:
    return next((layer for layer in sorted(ALLOWED, key=len, reverse=True)
                 if module == layer or module.startswith(layer + ".")), None)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module of ours that `path` imports (absolute imports; the tree uses no relative ones)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in OURS}


def source_files() -> list[Path]:
    return sorted(p for package in OURS for p in (ROOT / package).rglob("*.py"))


def violations() -> list[str]:
    found = []
    for path in source_files():
        module = module_name(path)
        if module in SURFACES:
            continue
        allowed = ALLOWED[layer_of(module)]
        for imported in imports_of(path):
            if imported in PACKAGE_ITSELF:
                continue
            target = layer_of(imported) or imported
            if target not in allowed:
                found.append(f"{module} imports {imported} ({layer_of(module)} → {target})")
    return sorted(set(found))


def test_every_module_belongs_to_a_layer():
    unplaced = [module_name(p) for p in source_files()
                if module_name(p) not in SURFACES and layer_of(module_name(p)) is None]
    assert unplaced == []


def test_no_module_imports_across_the_dependency_rule():
    assert violations() == []


def test_the_rule_catches_a_forbidden_import():
    """The check itself: a domain module importing the API is reported."""
    bad = ROOT / "mibo" / "domain" / "_layering_probe.py"
    bad.write_text("from mibo.api import keys\n")
    try:
        assert "mibo.domain._layering_probe imports mibo.api.keys (mibo.domain → mibo.api)" in violations()
    finally:
        bad.unlink()


@pytest.mark.parametrize("entry", ["jobs.worker", "jobs.scheduler"])
def test_background_processes_load_no_api_module(entry):
    probe = (f"import sys, {entry}; "
             "print('\\n'.join(sorted(m for m in sys.modules if m.startswith(('mibo.api', 'schemas')))))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                            check=True, env={"MIBO_BROKER": "stub", "APP_ENV": "test",
                                             "PATH": "/usr/bin:/bin"}).stdout.split()
    assert loaded == []
