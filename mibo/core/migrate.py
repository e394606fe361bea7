"""Applies sql/migrations/NNNN_*.sql in order, each in its own transaction, once.

Applied versions are recorded in schema_migrations; a PostgreSQL advisory lock keeps two
runners (say, two containers starting at once) from applying the same file twice.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg2
from psycopg2 import sql

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "sql" / "migrations"
_LOCK_KEY = 0x6D69626F  # "mibo"

log = logging.getLogger(__name__)


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    return sorted(p for p in directory.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def migrate(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations; return the versions applied (empty when up to date)."""
    applied_now: list[str] = []
    conn = psycopg2.connect(dsn)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            cur.execute("SELECT version FROM schema_migrations")
            done = {row[0] for row in cur.fetchall()}
        for path in migration_files(directory):
            version = path.stem
            if version in done:
                continue
            conn.autocommit = False
            try:
                with conn.cursor() as cur:
                    cur.execute(path.read_text())
                    cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                conn.commit()
            except Exception:
                conn.rollback()
                raise
            finally:
                conn.autocommit = True
            log.info("applied migration %s", version)
            applied_now.append(version)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    finally:
        conn.close()
    return applied_now


def ensure_database(dsn: str) -> bool:
    """Create the database named in dsn if it does not exist; True when it was created."""
    from psycopg2.extensions import make_dsn, parse_dsn

    params = parse_dsn(dsn)
    name = params.get("dbname")
    admin = psycopg2.connect(make_dsn(dsn, dbname="postgres"))
    try:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone():
                return False
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    finally:
        admin.close()
