"""The Dramatiq broker. Import this module before any actor module (actors bind to it).

Dramatiq declares an actor on the broker set when the actor's module is imported, so the broker
has to exist then: that is the one thing this module does at import. MIBO_BROKER=stub selects
dramatiq's StubBroker for unit tests (and reads nothing else); otherwise the Redis broker is made
from the worker's settings, read through jobs.context.settings(), the hook every actor uses.
Async actors run on the AsyncIO middleware's event loop (one per worker process), which is also
where jobs.context creates the worker's database pool.

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

from jobs import context, steps
from mibo.core import outbox
from mibo.core.config import Settings


def redis_broker(settings: Settings, **options) -> RedisBroker:
    return RedisBroker(
        url=settings.redis_url,
        heartbeat_timeout=settings.broker_heartbeat_timeout * 1000,
        maintenance_chance=settings.broker_maintenance_chance,
        **options,
    )


def _make_broker() -> dramatiq.Broker:
    if os.environ.get("MIBO_BROKER") == "stub":
        stub = StubBroker()
        stub.emit_after("process_boot")
        return stub
    return redis_broker(context.settings())


broker = _make_broker()
broker.add_middleware(AsyncIO())
dramatiq.set_broker(broker)


def actor(name: str, *, fields: tuple[str, ...] = (), **options):
    """Declare an actor on this broker: a step (jobs.steps) under a name of the outbox registry,
    on its queue; `fields` name its arguments in the step's log lines.

    Binding to `broker` explicitly (not to whichever broker is global when the actor's module is
    imported) and refusing a name the registry does not know make both mistakes fail at import.
    """
    if name not in outbox.ACTORS:
        raise ValueError(f"{name!r} is not in mibo.core.outbox.ACTORS")

    def declare(work):
        return dramatiq.actor(steps.step(name, work, fields), broker=broker, actor_name=name,
                              queue_name=outbox.queue_for(name), **options)

    return declare
