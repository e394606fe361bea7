"""The migration runner: each file in its own transaction, recorded once, re-running is a no-op."""

import psycopg2
import pytest
from psycopg2 import sql

from mibo.core.migrate import ensure_database, migrate
from tests.conftest import PG_HOST, TEST_DB

SCRATCH = f"{TEST_DB}_migrations"


@pytest.fixture
def scratch_dsn():
    admin = psycopg2.connect(f"{PG_HOST}/postgres")
    admin.autocommit = True
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(SCRATCH))
    with admin.cursor() as cur:
        cur.execute(drop)
    dsn = f"{PG_HOST}/{SCRATCH}"
    assert ensure_database(dsn) is True
    assert ensure_database(dsn) is False
    yield dsn
    with admin.cursor() as cur:
        cur.execute(drop)
    admin.close()


def tables(dsn):
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        names = [row[0] for row in cur.fetchall()]
        cur.execute("SELECT version FROM schema_migrations ORDER BY 1")
        versions = [row[0] for row in cur.fetchall()]
    conn.close()
    return names, versions


def test_real_migrations_apply_once(scratch_dsn):
    first = migrate(scratch_dsn)
    assert first[0] == "0001_schema" and len(first) >= 2
    assert migrate(scratch_dsn) == []
    names, versions = tables(scratch_dsn)
    assert versions == first
    assert {"appointments", "outbox", "webhook_events", "audit_log"} <= set(names)


def test_a_failing_migration_leaves_nothing_half_done(scratch_dsn, tmp_path):
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE kept (id int);")
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    with pytest.raises(psycopg2.Error):
        migrate(scratch_dsn, tmp_path)
    names, versions = tables(scratch_dsn)
    assert "kept" in names and "half" not in names
    assert versions == ["0001_ok"]
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE half (id int);")
    assert migrate(scratch_dsn, tmp_path) == ["0002_broken"]
