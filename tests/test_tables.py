"""mibo/tables.py must describe the migrated database exactly: same tables, columns, types, nullability."""

import psycopg2
import pytest

from mibo.core import tables

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


def test_every_table_is_described(database_columns):
    assert {table for table, _ in database_columns} == set(tables.metadata.tables)


def test_columns_types_and_nullability_match(database_columns):
    dialect = tables._DIALECT
    described = {
        (table.name, column.name): (normalise(column.type.compile(dialect)), column.nullable)
        for table in tables.metadata.tables.values()
        for column in table.columns
    }
    assert described == database_columns
