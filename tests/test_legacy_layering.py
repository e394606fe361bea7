"""The admin panel's contract is translation only: no module of mibo.api.legacy imports a database
or SQL module, or holds SQL of its own. Checked over the source, direct imports included
(`import x`, `from x import y`, `from mibo.core import db`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEGACY = ROOT / "mibo" / "api" / "legacy"

FORBIDDEN = ("aiopg", "psycopg2", "sqlalchemy", "mibo.core.db", "mibo.core.tables", "mibo.core.listing",
             "mibo.core.migrate")
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
                 r"CREATE\s+(TABLE|INDEX)|ALTER\s+TABLE|TRUNCATE)\b", re.IGNORECASE | re.DOTALL)


def imported_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            names.add(node.module or "")
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def problems_in(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = [f"{path.name} imports {name}" for name in sorted(imported_names(tree))
             if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)]
    found += [f"{path.name}:{node.lineno} holds SQL" for node in ast.walk(tree)
              if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value)]
    return found


def problems() -> list[str]:
    return sorted(p for path in sorted(LEGACY.rglob("*.py")) for p in problems_in(path))


def test_the_panels_contract_imports_no_database_module_and_holds_no_sql():
    assert sorted(LEGACY.rglob("*.py")), "the package moved"
    assert problems() == []


def test_the_check_catches_each_way_of_importing_the_database_and_sql(tmp_path):
    probes = {
        "a.py": "import aiopg\n",
        "b.py": "from mibo.core import db\n",
        "c.py": "from sqlalchemy import select\n",
        "d.py": "import psycopg2.extras\n",
        "e.py": "from mibo.core.tables import users\n",
        "f.py": 'Q = """\nselect id\n  from users where id = %s"""\n',
        "g.py": "X = 'UPDATE users SET is_active = false'\n",
    }
    for name, text in probes.items():
        (tmp_path / name).write_text(text)
        assert problems_in(tmp_path / name), name
    (tmp_path / "ok.py").write_text("from mibo.domain import clinicians\nTEXT = 'Select a clinician'\n")
    assert problems_in(tmp_path / "ok.py") == []
