"""`mibo` command: run the API, migrate, seed demo data."""

from __future__ import annotations

import argparse
import logging
import sys

from mibo.core import config

log = logging.getLogger("mibo")


def _settings() -> config.Settings:
    try:
        return config.load()
    except config.ConfigError as exc:
        print(f"mibo: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_api(args) -> None:
    from aiohttp import web

    from mibo.api.app import init_app
    from mibo.core.logs import setup_logging

    settings = _settings()
    setup_logging(settings.log_level)
    host = args.host or settings.host
    port = args.port or settings.port
    # run_app turns SIGTERM into a graceful shutdown: stop accepting, drain in-flight
    # requests for up to shutdown_timeout, then run cleanup_ctx (closes the pool).
    web.run_app(
        init_app(settings),
        host=host,
        port=port,
        shutdown_timeout=settings.shutdown_timeout,
        access_log=None,
        print=lambda *_: log.info("API listening on http://%s:%s", host, port),
    )


def cmd_migrate(args) -> None:
    from mibo.core.logs import setup_logging
    from mibo.core.migrate import ensure_database, migrate

    settings = _settings()
    setup_logging(settings.log_level)
    if ensure_database(settings.database_url):
        log.info("created database")
    applied = migrate(settings.database_url)
    print(f"migrations applied: {', '.join(applied) if applied else 'none (up to date)'}")


def cmd_seed(args) -> None:
    from mibo.seed import seed_demo

    settings = _settings()
    print(seed_demo(settings))


def cmd_sandbox(args) -> None:
    """The local stand-in for Razorpay, Gallabox and Google that development uses by default."""
    import os

    from aiohttp import web

    from mibo.core.logs import setup_logging
    from mibo.providers.sandbox import create_sandbox_app

    settings = _settings()
    setup_logging(settings.log_level)
    port = args.port or int(os.environ.get("SANDBOX_PORT", "8070"))
    web.run_app(
        create_sandbox_app(settings),
        host=args.host,
        port=port,
        access_log=None,
        print=lambda *_: log.info("provider sandbox listening on http://%s:%s", args.host, port),
    )


def cmd_worker(args) -> None:
    """Dramatiq workers for jobs/ (the broker, then every actor module: see jobs/worker.py)."""
    import os

    _settings()  # fail fast on bad configuration, before forking workers
    argv = [sys.executable, "-m", "dramatiq", "jobs.worker", "--processes", str(args.processes),
            "--threads", str(args.threads)]
    os.execv(sys.executable, argv)


def cmd_scheduler(args) -> None:
    """APScheduler process: periodic jobs that only enqueue (see jobs/scheduler.py)."""
    from jobs.scheduler import main as scheduler_main

    _settings()
    scheduler_main()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mibo", description="Mibo hospital-chain backend")
    sub = parser.add_subparsers(dest="command", required=True)
    api = sub.add_parser("api", help="run the HTTP API")
    api.add_argument("--host")
    api.add_argument("--port", type=int)
    api.set_defaults(func=cmd_api)
    sub.add_parser("migrate", help="create the database if missing and apply migrations").set_defaults(
        func=cmd_migrate
    )
    sub.add_parser("seed", help="load the demo data set (idempotent)").set_defaults(func=cmd_seed)
    sandbox = sub.add_parser("sandbox", help="run the local Razorpay/Gallabox/Google sandbox")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, help="default: SANDBOX_PORT or 8070")
    sandbox.set_defaults(func=cmd_sandbox)
    worker = sub.add_parser("worker", help="run the background job workers (dramatiq)")
    worker.add_argument("--processes", type=int, default=2)
    worker.add_argument("--threads", type=int, default=4)
    worker.set_defaults(func=cmd_worker)
    sub.add_parser("scheduler", help="run the periodic job scheduler").set_defaults(func=cmd_scheduler)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
