#!/usr/bin/env bash
# Makes a fresh Debian machine ready: PostgreSQL and Redis installed and running on
# localhost, and the project's virtualenv in .venv. Safe to run again; it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[bootstrap] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# --- PostgreSQL -------------------------------------------------------------
if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
  log "installing PostgreSQL"
  apt_install postgresql postgresql-contrib
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  log "starting PostgreSQL"
  for v in $(ls /etc/postgresql); do
    as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
  done
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 -q || { log "PostgreSQL did not start"; exit 1; }
# The app connects as the current OS user; make sure that role exists (trust or peer auth on localhost).
if ! psql -h 127.0.0.1 -U "$(id -un)" -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
  log "creating PostgreSQL role $(id -un)"
  as_root su postgres -c "psql -q -c \"CREATE ROLE \\\"$(id -un)\\\" LOGIN SUPERUSER\"" || true
fi

# --- Redis ------------------------------------------------------------------
if ! command -v redis-server >/dev/null 2>&1; then
  log "installing Redis"
  apt_install redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/mibo.log
  for _ in $(seq 1 20); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { log "Redis did not start"; exit 1; }

# --- Python virtualenv --------------------------------------------------------
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
  log "installing Python 3"
  apt_install python3 python3-venv python3-dev
  PY=python3
fi
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PY" -m venv .venv || { apt_install python3-venv; "$PY" -m venv .venv; }
fi
stamp=.venv/.installed-$(cat setup.cfg | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  log "installing Python packages"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[test]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
log "ready"
