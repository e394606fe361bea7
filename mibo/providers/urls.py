"""Where each provider lives. An empty base URL in the settings means the local sandbox.

That default is what lets a fresh checkout (and the test suite) run every payment, WhatsApp and
Meet flow without credentials or network: see mibo/providers/sandbox/.
"""

from __future__ import annotations

from mibo.core.config import Settings


def razorpay_base_url(settings: Settings) -> str:
    # razorpay.Client appends /v1/... itself; a configured ".../v1" would double it.
    return (settings.razorpay_base_url or f"{settings.sandbox_url}/razorpay").removesuffix("/v1")


def gallabox_base_url(settings: Settings) -> str:
    return settings.gallabox_base_url or f"{settings.sandbox_url}/gallabox"


def google_token_uri(settings: Settings) -> str:
    return settings.google_token_uri or f"{settings.sandbox_url}/google/token"


def google_calendar_endpoint(settings: Settings) -> str:
    """GOOGLE_CALENDAR_BASE_URL is the API root (https://www.googleapis.com in production)."""
    root = settings.google_calendar_base_url or f"{settings.sandbox_url}/google"
    return f"{root}/calendar/v3/"
