"""A requests session for provider calls: a default timeout, and every failure as ProviderError.

requests has no session-wide timeout (a request without one can hang forever), and the
razorpay client hides the HTTP status behind its own exception classes. Doing both here, at
the transport, gives Razorpay and Gallabox the same timeout and the same retry decision.
"""

from __future__ import annotations

import requests

from mibo.providers.errors import ProviderError, is_retryable_status

CONNECT_TIMEOUT = 5.0
DEFAULT_TIMEOUT = (CONNECT_TIMEOUT, 15.0)


class ProviderSession(requests.Session):
    def __init__(self, provider: str, timeout: float | tuple[float, float] = DEFAULT_TIMEOUT):
        super().__init__()
        self.provider = provider
        self.timeout = timeout

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = super().request(method, url, **kwargs)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise ProviderError(self.provider, f"{type(exc).__name__} on {method.upper()}",
                                retryable=True) from exc
        except requests.RequestException as exc:
            raise ProviderError(self.provider, f"{type(exc).__name__} on {method.upper()}",
                                retryable=False) from exc
        if response.status_code >= 400:
            raise ProviderError(self.provider, _error_text(response), response.status_code,
                                retryable=is_retryable_status(response.status_code))
        return response


def _error_text(response: requests.Response) -> str:
    # Providers put the reason in the body; keep it short, it ends up in logs and tables.
    return response.text[:300] or response.reason or "error"
