#!/usr/bin/env bash
# `make run`: set up what is missing, migrate, load the demo data, and start every process
# under supervisord (in the background; `make stop` ends them).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

# Unset APP_ENV means production (which refuses the development secrets): say which this is.
export APP_ENV=${APP_ENV:-development}
export DATABASE_URL=${DATABASE_URL:-postgresql://127.0.0.1:5432/mibo}
export PORT=${PORT:-8000}
.venv/bin/mibo migrate
.venv/bin/mibo seed

mkdir -p run
if .venv/bin/supervisorctl -c supervisord.conf status >/dev/null 2>&1; then
  .venv/bin/supervisorctl -c supervisord.conf restart all >/dev/null
else
  .venv/bin/supervisord -c supervisord.conf
fi

for _ in $(seq 1 40); do
  curl -fsS "http://127.0.0.1:$PORT/api/health" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$PORT/api/health" >/dev/null || {
  echo "The API did not come up; see run/api.log" >&2; exit 1; }

cat <<INFO

Mibo is running (api, worker, scheduler and the provider sandbox, under supervisord).
  API:      http://127.0.0.1:$PORT   (health: /api/health, docs: /api/docs, metrics: /metrics)
  Sandbox:  http://127.0.0.1:8070/_sandbox/requests   (what Razorpay, Gallabox and Google were sent)
  Metrics:  worker http://127.0.0.1:9191/metrics, scheduler http://127.0.0.1:9192/metrics
  Logs:     run/*.log          Stop: make stop          Status: make status

Log in as the demo admin:
  curl -s -X POST http://127.0.0.1:$PORT/api/auth/login/username-password \\
       -H 'Content-Type: application/json' -d '{"username":"admin","password":"Mibo@2026"}'
Other demo accounts (same password) are listed in README.md.
INFO
