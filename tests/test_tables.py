"""mibo/core/tables.py describes only tables that queries are composed from, and those exactly as
migrated: same columns, types and nullability."""

from pathlib import Path

import psycopg2
import pytest

from mibo.core import tables

ROOT = Path(__file__).resolve().parent.parent

COLUMNS = """
SELECT c.relname AS table_name, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
  AND c.relname <> 'schema_migrations'
"""


def normalise(type_name: str) -> str:
    return (type_name.lower().replace("varchar", "character varying").replace(", ", ","))


@pytest.fixture(scope="module")
def database_columns(settings, migrated):
    conn = psycopg2.connect(settings.database_url)
    with conn.cursor() as cur:
        cur.execute(COLUMNS)
        rows = cur.fetchall()
    conn.close()
    return {(table, column): (normalise(type_name), nullable) for table, column, type_name, nullable in rows}


def test_every_described_table_exists_and_is_used(database_columns):
    assert set(tables.metadata.tables) <= {table for table, _ in database_columns}
    source = "\n".join(p.read_text() for package in ("mibo", "jobs") for p in (ROOT / package).rglob("*.py")
                       if p.name != "tables.py")
    unused = [name for name in tables.metadata.tables if f"tables.{name}" not in source]
    assert unused == []


def test_columns_types_and_nullability_match(database_columns):
    dialect = tables._DIALECT
    described = {
        (table.name, column.name): (normalise(column.type.compile(dialect)), column.nullable)
        for table in tables.metadata.tables.values()
        for column in table.columns
    }
    assert described == {key: value for key, value in database_columns.items() if key[0] in tables.metadata.tables}
