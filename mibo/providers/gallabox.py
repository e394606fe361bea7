"""WhatsApp template messages through Gallabox's REST API.

Request shape (Gallabox "devapi"): POST {base}/devapi/messages/whatsapp with `apiKey` and
`apiSecret` headers; named template variables go in `bodyValues` as an object.
"""

from __future__ import annotations

from mibo.core.config import Settings
from mibo.providers.errors import ProviderError
from mibo.providers.http import DEFAULT_TIMEOUT, ProviderSession
from mibo.providers.retry import with_retries
from mibo.providers.urls import gallabox_base_url

PROVIDER = "gallabox"


class GallaboxClient:
    """One instance per worker thread (requests sessions are not shared across threads)."""

    def __init__(self, settings: Settings, *, timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
                 attempts: int = 3, backoff: float = 0.5):
        self._url = f"{gallabox_base_url(settings)}/devapi/messages/whatsapp"
        self._channel_id = settings.gallabox_channel_id
        self._session = ProviderSession(PROVIDER, timeout)
        self._session.headers.update({"apiKey": settings.gallabox_api_key,
                                      "apiSecret": settings.gallabox_api_secret})
        self._attempts = attempts
        self._backoff = backoff

    def close(self) -> None:
        """Close pooled connections (or use contextlib.closing)."""
        self._session.close()

    def send_template(self, phone: str, name: str, template_name: str, body_values: dict) -> str:
        """Send one template message; returns Gallabox's message id.

        `phone` is E.164 (+919876543210); Gallabox wants the digits only. Values are sent as
        strings because template variables are text.
        A read timeout is retried like a 5xx, so in that rare case the patient may get the
        message twice; Gallabox has no idempotency key that would let us avoid it.
        """
        digits = phone.removeprefix("+")
        if not digits.isdigit():
            raise ProviderError(PROVIDER, "phone must be digits in international format", retryable=False)
        body = {
            "channelId": self._channel_id,
            "channelType": "whatsapp",
            "recipient": {"name": name, "phone": digits},
            "whatsapp": {
                "type": "template",
                "template": {"templateName": template_name,
                             "bodyValues": {key: str(value) for key, value in body_values.items()}},
            },
        }
        response = with_retries(lambda: self._session.post(self._url, json=body),
                                attempts=self._attempts, backoff=self._backoff)
        message_id = _json(response).get("id")
        if not message_id:
            # Accepted but unidentified: retrying could send it twice, so do not mark it retryable.
            raise ProviderError(PROVIDER, "accepted without a message id", response.status_code,
                                retryable=False)
        return str(message_id)


def _json(response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
