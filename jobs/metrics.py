"""Job health for Prometheus, from the worker and scheduler processes.

Worker (JobMetrics, a Dramatiq middleware): messages processed / failed / retried /
dead-lettered per actor and a duration histogram. Scheduler: the last successful run of each
periodic job, what each sweep found stuck and queued again, and (read at scrape time) queue depth
per Dramatiq queue, the outbox backlog (steps not done) with the age of its oldest step, and the
refunds not settled longer than REFUND_WAITING_ALERT. Each process serves its own registry over HTTP.

`dramatiq --processes N` forks N workers that cannot share a port, so each takes the first
free port from WORKER_METRICS_PORT upwards (port 0 disables serving).
"""

from __future__ import annotations

import logging
import threading
import time

import prometheus_client
import psycopg2
import redis
from dramatiq import Middleware
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
PORT_RANGE = 16
LOOPBACK = "127.0.0.1"  # metrics are for the local Prometheus agent unless METRICS_HOST says otherwise


class JobMetrics(Middleware):
    def __init__(self, registry: prometheus_client.CollectorRegistry | None = None, port: int = 0,
                 host: str = LOOPBACK):
        self.registry = registry or prometheus_client.CollectorRegistry()
        self.port = port
        self.host = host
        self.processed = prometheus_client.Counter(
            "mibo_jobs_messages_total", "Messages processed, by actor and outcome (success, error)",
            ["actor", "outcome"], registry=self.registry)
        self.retried = prometheus_client.Counter(
            "mibo_jobs_messages_retried_total", "Messages scheduled for another attempt", ["actor"],
            registry=self.registry)
        self.dead_lettered = prometheus_client.Counter(
            "mibo_jobs_messages_dead_lettered_total", "Messages given up on (dead-letter queue)", ["actor"],
            registry=self.registry)
        self.skipped = prometheus_client.Counter(
            "mibo_jobs_messages_skipped_total", "Messages skipped (e.g. older than their age limit)",
            ["actor"],
            registry=self.registry)
        self.duration = prometheus_client.Histogram(
            "mibo_jobs_message_duration_seconds", "Time spent processing a message", ["actor"],
            buckets=DURATION_BUCKETS, registry=self.registry)
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()

    def after_worker_boot(self, broker, worker) -> None:
        if self.port:
            serve(self.registry, self.port, PORT_RANGE, self.host)

    def before_process_message(self, broker, message) -> None:
        with self._lock:
            self._started[message.message_id] = time.perf_counter()

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        with self._lock:
            started = self._started.pop(message.message_id, None)
        if started is not None:
            self.duration.labels(message.actor_name).observe(time.perf_counter() - started)
        self.processed.labels(message.actor_name, "success" if exception is None else "error").inc()

    def after_skip_message(self, broker, message) -> None:
        self.skipped.labels(message.actor_name).inc()

    def after_enqueue(self, broker, message, delay) -> None:
        # The Retries middleware re-enqueues a failed message with a delay and a retry count.
        if delay and message.options.get("retries"):
            self.retried.labels(message.actor_name).inc()

    def after_nack(self, broker, message) -> None:
        self.dead_lettered.labels(message.actor_name).inc()


class SchedulerMetrics:
    def __init__(self, registry: prometheus_client.CollectorRegistry | None = None):
        self.registry = registry or prometheus_client.CollectorRegistry()
        self.last_success = prometheus_client.Gauge(
            "mibo_scheduler_job_last_success_timestamp_seconds", "When each periodic job last succeeded",
            ["job"], registry=self.registry)
        self.failures = prometheus_client.Counter(
            "mibo_scheduler_job_failures_total", "Periodic job runs that raised", ["job"],
            registry=self.registry)

        self.sweep_found = prometheus_client.Gauge(
            "mibo_sweep_found", "Stuck items the last run of each sweep found", ["sweep"], registry=self.registry)
        self.sweep_repaired = prometheus_client.Counter(
            "mibo_sweep_repaired_total", "Stuck items each sweep queued again", ["sweep"], registry=self.registry)
        self.sweep_oldest = prometheus_client.Gauge(
            "mibo_sweep_oldest_open_seconds", "Age of the oldest open item each sweep watches", ["sweep"],
            registry=self.registry)

    def succeeded(self, job: str) -> None:
        self.last_success.labels(job).set(time.time())

    def swept(self, sweep: str, result) -> None:
        """What one run of a sweep (a jobs.sweeps.Sweep) found, repaired and saw open."""
        self.sweep_found.labels(sweep).set(result.found)
        self.sweep_repaired.labels(sweep).inc(result.repaired)
        self.sweep_oldest.labels(sweep).set(result.oldest_seconds)

    def failed(self, job: str) -> None:
        self.failures.labels(job).inc()


OUTBOX_BACKLOG = """
SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)
FROM outbox WHERE done_at IS NULL
"""

# Refunds asked for and not settled (neither PROCESSED nor FAILED) for longer than the alert age.
REFUNDS_WAITING = """
SELECT count(*) FROM refunds
WHERE status IN ('REQUESTED', 'PROCESSING') AND created_at < now() - make_interval(secs => %s)
"""


class BacklogCollector:
    """Queue depth and outbox backlog, measured when Prometheus scrapes (never stale)."""

    def __init__(self, database_url: str, redis_url: str, queues: tuple[str, ...],
                 namespace: str = "dramatiq", refund_waiting_alert: int = 2 * 86400):
        self.database_url = database_url
        self.refund_waiting_alert = refund_waiting_alert
        self.redis = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self.queues = queues
        self.namespace = namespace

    def collect(self):
        depth = GaugeMetricFamily(
            "mibo_jobs_queue_depth", "Messages waiting, by queue (ready, delayed, dead)",
            labels=["queue", "state"])
        try:
            for queue in self.queues:
                key = f"{self.namespace}:{queue}"
                depth.add_metric([queue, "ready"], self.redis.llen(key))
                depth.add_metric([queue, "delayed"], self.redis.llen(f"{key}.DQ"))
                depth.add_metric([queue, "dead"], self.redis.zcard(f"{key}.XQ"))
            yield depth
        except redis.RedisError as exc:
            log.warning("queue depth unavailable: %s", type(exc).__name__)
        try:
            with psycopg2.connect(self.database_url, connect_timeout=2) as conn, conn.cursor() as cur:
                cur.execute(OUTBOX_BACKLOG)
                count, age = cur.fetchone()
                cur.execute(REFUNDS_WAITING, (self.refund_waiting_alert,))
                (refunds_waiting,) = cur.fetchone()
            conn.close()
        except psycopg2.Error as exc:
            log.warning("outbox backlog unavailable: %s", type(exc).__name__)
            return
        yield GaugeMetricFamily(
            "mibo_outbox_backlog", "Outbox steps not done yet", value=count)
        yield GaugeMetricFamily(
            "mibo_outbox_oldest_age_seconds", "Age of the oldest outbox step not done yet", value=float(age))
        yield GaugeMetricFamily(
            "mibo_refunds_waiting_too_long", "Refunds not settled longer than REFUND_WAITING_ALERT after they "
            "were asked for", value=refunds_waiting)


def serve(registry, port: int, tries: int = 1, host: str = LOOPBACK) -> int | None:
    """Serve `registry` on host at the first free port of port .. port+tries-1; returns it (None if none)."""
    for candidate in range(port, port + tries):
        try:
            prometheus_client.start_http_server(candidate, addr=host, registry=registry)
        except OSError:
            continue
        log.info("metrics on port %d", candidate)
        return candidate
    log.warning("no free metrics port in %d..%d", port, port + tries - 1)
    return None
