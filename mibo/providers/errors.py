"""The one error every provider client raises, so actors can decide retry vs. give up uniformly."""

from __future__ import annotations


class ProviderError(Exception):
    """A call to an outside provider failed.

    `retryable` tells the caller whether trying again later can help: server errors (5xx),
    rate limiting (429), timeouts and connection failures can; other 4xx answers cannot,
    because the same request would be refused again.
    """

    def __init__(self, provider: str, message: str, status: int | None = None, *, retryable: bool):
        super().__init__(f"{provider}: {message}" + (f" (HTTP {status})" if status else ""))
        self.provider = provider
        self.message = message
        self.status = status
        self.retryable = retryable


def is_retryable_status(status: int) -> bool:
    # 429 is the one 4xx that means "later", not "never": a rate limit passes.
    return status >= 500 or status == 429
