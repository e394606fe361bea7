"""Bounded retry with exponential backoff, shared by the provider clients."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from mibo.providers.errors import ProviderError

log = logging.getLogger(__name__)
T = TypeVar("T")


def with_retries(call: Callable[[], T], *, attempts: int, backoff: float) -> T:
    """Run `call`, retrying retryable ProviderErrors up to `attempts` tries in all.

    Waits backoff, 2*backoff, 4*backoff... between tries. The bound is small on purpose: the
    actor that called us is itself retried by Dramatiq with a longer backoff, so we only ride
    out a blip here rather than hold a worker thread for minutes.
    """
    attempt = 1
    while True:
        try:
            return call()
        except ProviderError as exc:
            if not exc.retryable or attempt >= attempts:
                raise
            delay = backoff * 2 ** (attempt - 1)
            log.warning("%s failed (attempt %d of %d), retrying in %.2fs: %s",
                        exc.provider, attempt, attempts, delay, exc.message)
            time.sleep(delay)
            attempt += 1
