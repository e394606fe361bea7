"""The module workers run: `dramatiq jobs.worker` (or `mibo worker`).

Importing an actor module registers its actors (each declares them through jobs.broker). Once a
worker process has booted it logs JSON like the other processes, masked, and every line logged
inside a step carries the step's actor and arguments (jobs.steps); importing this module alone
(tests) changes no logging.
"""

from __future__ import annotations

import logging

import dramatiq

from jobs import context, steps
from jobs.actors import (  # noqa: F401  (register the actors)
    appointments,
    maintenance,
    notifications,
    otp,
    payments,
    refunds,
    video,
)
from jobs.broker import broker
from jobs.metrics import JobMetrics
from mibo.core.logs import setup_logging


class WorkerLogging(dramatiq.Middleware):
    def after_process_boot(self, broker) -> None:
        setup_logging(context.settings().log_level)
        for handler in logging.getLogger().handlers:
            handler.addFilter(steps.add_step_fields)


broker.add_middleware(WorkerLogging())
broker.add_middleware(JobMetrics(port=context.settings().worker_metrics_port, host=context.settings().metrics_host))
