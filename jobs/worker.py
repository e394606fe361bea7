"""The module workers run: `dramatiq jobs.worker` (or `mibo worker`).

Importing an actor module registers its actors; each of them imports jobs.broker first itself.
"""

from __future__ import annotations

from jobs import context
from jobs.actors import appointments, maintenance, notifications, otp, payments, video  # noqa: F401  (register the actors)
from jobs.broker import broker
from jobs.metrics import JobMetrics

broker.add_middleware(JobMetrics(port=context.settings().worker_metrics_port))
