"""Outbox → Dramatiq: publish the open steps of the outbox, and publish them again when Redis lost them.

A step (outbox row) stays open until the actor doing it has committed its effect. Publishing it
is a lease: its due_at moves OUTBOX_LEASE ahead, and a step still open when its lease runs out is
published again; that covers a message Redis accepted and then lost without a trace. Losses we
can see are not left to the lease: a Redis that restarted (its run id changed) or was flushed (our
marker key is gone) lost everything queued in it, so every open step is due again at once
(`check_broker`). Nothing here assumes Redis keeps anything; actors are idempotent, so a step
published twice is harmless.

An AFTER INSERT trigger (migration 0004) does pg_notify('outbox'), which PostgreSQL delivers
only when the inserting transaction commits. The API process LISTENs on a dedicated
connection and publishes as soon as it hears it; it also sweeps (`sweep`: the broker check, then
whatever is due) every OUTBOX_RELAY_INTERVAL seconds, and so does the scheduler.

Rows are claimed with FOR UPDATE SKIP LOCKED, so two relays never publish the same row at once.
Publishing is a synchronous Redis call, so it runs in the publisher's threads, never on the
event loop.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor

import aiopg
import redis
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis

from mibo.core import db
from mibo.core.config import Settings
from mibo.core.logs import log_event
from mibo.core.outbox import queue_for

log = logging.getLogger(__name__)

OUTBOX_MESSAGE_IDS = uuid.UUID("6d1b0c1e-4a53-4f4e-9a8e-0b7c2f0e5a11")
BATCH = 5000
# Below this many messages one thread publishes; above, the batch is split across threads.
PARALLEL_THRESHOLD = 2000
PIPELINE = 500

# New rows first (due since -infinity), then those whose lease ran out.
CLAIM_DUE = """
SELECT id, actor_name, args, published_at IS NOT NULL AS again FROM outbox
WHERE done_at IS NULL AND due_at <= now()
ORDER BY due_at, id
LIMIT %s
FOR UPDATE SKIP LOCKED
"""

MARK_PUBLISHED = """
UPDATE outbox SET published_at = now(), attempts = attempts + 1, due_at = now() + make_interval(secs => %s)
WHERE id = ANY(%s)
"""

RECORD_FAILURE = "UPDATE outbox SET attempts = attempts + 1, last_error = %s WHERE id = ANY(%s)"

# A row only when the epoch changed, with the epoch it replaced (NULL the first time one is
# recorded): a second relay noticing the same change waits for the first one's row lock, then
# finds the epoch already set and changes nothing.
NEW_BROKER_EPOCH = """
WITH previous AS (SELECT epoch FROM outbox_broker)
INSERT INTO outbox_broker (id, epoch, changed_at) VALUES (TRUE, %s, now())
ON CONFLICT (id) DO UPDATE SET epoch = EXCLUDED.epoch, changed_at = EXCLUDED.changed_at
WHERE outbox_broker.epoch IS DISTINCT FROM EXCLUDED.epoch
RETURNING (SELECT epoch FROM previous) AS previous
"""

# Steps published to a Redis that has since lost them: due again now.
REOPEN_LEASED = "UPDATE outbox SET due_at = now() WHERE done_at IS NULL AND due_at > now()"

# A key of ours in the broker's Redis: gone after a flush or a restart without a snapshot.
MARKER_KEY = "mibo:outbox:epoch"


def message_for(outbox_id: int, actor_name: str, args: list) -> Message:
    """The Dramatiq message of an outbox row; its id derives from the row, for tracing."""
    return Message(queue_name=queue_for(actor_name), actor_name=actor_name, args=tuple(args), kwargs={},
                   options={}, message_id=str(uuid.uuid5(OUTBOX_MESSAGE_IDS, str(outbox_id))))


class Publisher:
    """Puts messages on the Redis queues the workers consume, from a process that runs no actors."""

    def __init__(self, settings: Settings, threads: int = 4):
        self.lease = settings.outbox_lease
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        # No middleware: publishing needs none, and the actors' options live with the workers.
        self.broker = RedisBroker(client=client, middleware=[])
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="outbox-publisher")
        self.threads = threads

    def _enqueue(self, batch: list[tuple[int | None, Message]]) -> tuple[list, Exception | None]:
        """Enqueue in pipelines: one Redis round trip per PIPELINE messages instead of one each.

        This runs RedisBroker.enqueue's own Lua dispatch script with the arguments it passes
        (dramatiq 2.x; no delay, no maintenance): a 100k-reminder sweep is round-trip bound
        otherwise (about 4k messages/s here against 15-20k/s pipelined).
        """
        broker = self.broker
        dispatch = broker.scripts["dispatch"]
        done: list = []
        for start in range(0, len(batch), PIPELINE):
            part = batch[start:start + PIPELINE]
            pipe = broker.client.pipeline(transaction=False)
            for _, message in part:
                redis_message_id = str(uuid.uuid4())  # unique per enqueue, as RedisBroker.enqueue does
                message = message.copy(options={"redis_message_id": redis_message_id})
                # ARGV: command, timestamp, queue, broker id, heartbeat timeout, dead-message TTL,
                # do_maintenance, max_unpack_size (unused by enqueue), then the command's own args.
                dispatch(keys=[broker.namespace], client=pipe, args=[
                    "enqueue", current_millis(), message.queue_name, broker.broker_id,
                    broker.heartbeat_timeout, broker.dead_message_ttl, 0, 0, redis_message_id, message.encode()])
            try:
                pipe.execute()
            except Exception as exc:  # Redis down or refusing: report what made it, and why not
                return done, exc
            done.extend(key for key, _ in part)
        return done, None

    async def publish(self, batch: list[tuple[int | None, Message]]) -> tuple[list, Exception | None]:
        """Enqueue messages (each with a caller's key); returns the keys enqueued and the first error."""
        loop = asyncio.get_running_loop()
        parts = 1 if len(batch) < PARALLEL_THRESHOLD else self.threads
        chunks = [batch[i::parts] for i in range(parts)]
        results = await asyncio.gather(
            *(loop.run_in_executor(self.executor, self._enqueue, chunk) for chunk in chunks))
        done = [key for keys, _ in results for key in keys]
        error = next((exc for _, exc in results if exc is not None), None)
        return done, error

    def _epoch(self) -> str:
        """Which Redis this is: its run id (new on every restart) and our marker (gone after a flush)."""
        client = self.broker.client
        try:
            run_id = client.info("server").get("run_id", "")
        except redis.ResponseError:  # INFO refused (a managed Redis): the marker alone still tells
            run_id = ""
        pipe = client.pipeline()
        pipe.set(MARKER_KEY, uuid.uuid4().hex, nx=True)
        pipe.get(MARKER_KEY)
        _, marker = pipe.execute()
        return f"{run_id}/{marker.decode()}"

    async def epoch(self) -> str:
        return await asyncio.get_running_loop().run_in_executor(self.executor, self._epoch)

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.broker.client.close()


async def publish_pending(pool, publisher: Publisher, batch: int = BATCH) -> int:
    """Publish every due outbox row (batch by batch); returns how many went out."""
    published, _ = await publish_due(pool, publisher, batch)
    return published


async def publish_due(pool, publisher: Publisher, batch: int = BATCH) -> tuple[int, int]:
    """Publish every due row and lease it; returns (published, of them published before).

    Stops at the first Redis failure, recording it on the rows; they stay due for the next sweep.
    """
    total = again = 0
    while True:
        async with db.transaction(pool) as cur:
            rows = await db.fetch_all(cur, CLAIM_DUE, (batch,))
            if not rows:
                return total, again
            done, error = await publisher.publish(
                [(row["id"], message_for(row["id"], row["actor_name"], row["args"])) for row in rows])
            published = set(done)
            if done:
                await db.execute(cur, MARK_PUBLISHED, (publisher.lease, done))
            if error is not None:
                left = [row["id"] for row in rows if row["id"] not in published]
                await db.execute(cur, RECORD_FAILURE, (f"{type(error).__name__}: {error}"[:500], left))
        total += len(done)
        again += sum(1 for row in rows if row["again"] and row["id"] in published)
        if error is not None:
            log_event(log, logging.WARNING, "outbox publish failed; rows kept for the next sweep",
                      published=total, error=type(error).__name__)
            return total, again
        if len(rows) < batch:
            return total, again


async def check_broker(pool, publisher: Publisher) -> int:
    """Make every leased step due again if Redis is not the one it was published to; returns how many.

    The epoch is kept in the database, so that of several relays noticing the same restart only
    one reopens the steps.
    """
    epoch = await publisher.epoch()
    async with db.transaction(pool) as cur:
        changed = await db.fetch_one(cur, NEW_BROKER_EPOCH, (epoch,))
        # The first epoch recorded has nothing to compare with: the leases cover what came before.
        if changed is None or changed["previous"] is None:
            return 0
        reopened = await db.execute(cur, REOPEN_LEASED)
    if reopened:
        log_event(log, logging.WARNING, "Redis lost its queued messages; their steps are published again",
                  steps=reopened)
    return reopened


async def sweep(pool, publisher: Publisher) -> int:
    """One relay pass: the broker check (skipped while Redis is unreachable), then every due row."""
    try:
        await check_broker(pool, publisher)
    except redis.RedisError as exc:
        log_event(log, logging.WARNING, "broker check skipped", error=type(exc).__name__)
    return await publish_pending(pool, publisher)


async def run_relay(pool, settings: Settings, publisher: Publisher) -> None:
    """LISTEN for committed outbox rows and publish them; also sweep every interval."""
    interval = settings.outbox_relay_interval
    loop = asyncio.get_running_loop()
    while True:
        try:
            async with aiopg.connect(settings.database_url) as conn:
                async with conn.cursor() as cur:
                    await cur.execute("LISTEN outbox")
                while True:
                    await sweep(pool, publisher)
                    next_sweep = loop.time() + interval
                    while (left := next_sweep - loop.time()) > 0:
                        try:
                            await asyncio.wait_for(conn.notifies.get(), left)
                        except TimeoutError:
                            break
                        while not conn.notifies.empty():  # one pass publishes everything heard so far
                            conn.notifies.get_nowait()
                        await publish_pending(pool, publisher)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # database restarting: keep the relay alive, try again shortly
            log_event(log, logging.WARNING, "outbox relay interrupted",
                      error=f"{type(exc).__name__}: {exc}"[:300])
            await asyncio.sleep(interval)
