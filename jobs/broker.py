"""The Dramatiq broker. Import this module before any actor module (actors bind to it).

MIBO_BROKER=stub selects dramatiq's StubBroker for unit tests; otherwise the Redis broker
at REDIS_URL. Async actors run on the AsyncIO middleware's event loop (one per worker
process), which is also where jobs.context creates the worker's database pool.

A worker that dies without acknowledging (SIGKILL, OOM) leaves its messages in Redis; they
are requeued by a broker maintenance run once its heartbeat is older than
BROKER_HEARTBEAT_TIMEOUT. Dramatiq's defaults (60 s, maintenance on 0.1% of commands) bring
them back after minutes; ours (10 s, 10%) after seconds, at the cost of a cheap Lua scan
on one in ten polls.
"""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

from mibo.core import config

settings = config.load()


def redis_broker(settings: config.Settings, **options) -> RedisBroker:
    return RedisBroker(
        url=settings.redis_url,
        heartbeat_timeout=settings.broker_heartbeat_timeout * 1000,
        maintenance_chance=settings.broker_maintenance_chance,
        **options,
    )


if os.environ.get("MIBO_BROKER") == "stub":
    broker: dramatiq.Broker = StubBroker()
    broker.emit_after("process_boot")
else:
    broker = redis_broker(settings)
broker.add_middleware(AsyncIO())
dramatiq.set_broker(broker)
