"""OTP delivery over WhatsApp (Gallabox template "login_otp") through a worker: the API side.

The code must never be stored in plaintext, yet the worker needs it to send the
message. So the API encrypts {phone, otp} with Fernet under a key derived from OTP_HASH_SECRET
(HMAC-SHA256 with a fixed label, so it is a different key from the OTP hashes' pepper) and
publishes the ciphertext straight to Redis, not through the outbox table: the message lives only
until a worker takes it, carries a 2-minute age limit, and the token itself stops decrypting
after OTP_EXPIRY_MINUTES. A dead-lettered copy left in Redis is therefore unreadable and expired.
The notification_logs row records the attempt (status, attempts, error) but never the code.

Chosen when OTP_CHANNEL=whatsapp, or when OTP_CHANNEL is unset and GALLABOX_BASE_URL is set
(a real Gallabox account); otherwise mibo.domain.otp.ConsoleOtpSender prints it in development.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging

from cryptography.fernet import Fernet, InvalidToken
from dramatiq import Message

from mibo.core.config import Settings
from mibo.core.errors import ApiError
from mibo.core.logs import log_event, mask_phone
from mibo.core.outbox import DEFAULT_QUEUE, SEND_OTP

log = logging.getLogger(__name__)

TEMPLATE = "login_otp"
KIND = "OTP"
MESSAGE_MAX_AGE_MS = 2 * 60 * 1000


def whatsapp_configured(settings: Settings) -> bool:
    if settings.otp_channel:
        return settings.otp_channel == "whatsapp"
    return bool(settings.gallabox_base_url)


def fernet(settings: Settings) -> Fernet:
    key = hmac.new(settings.otp_hash_secret.encode(), b"mibo:otp-delivery:v1", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(settings: Settings, phone: str, otp: str, expiry_minutes: int) -> str:
    sealed = json.dumps({"phone": phone, "otp": otp, "minutes": expiry_minutes}).encode()
    return fernet(settings).encrypt(sealed).decode()


def unseal(settings: Settings, token: str) -> dict | None:
    """The sealed OTP, or None once it has expired (or was not sealed with our key)."""
    try:
        return json.loads(fernet(settings).decrypt(token.encode(), ttl=settings.otp_expiry_minutes * 60))
    except InvalidToken:
        return None


class WhatsAppOtpSender:
    """mibo.domain.otp.OtpSender that hands the sealed code to the send_otp actor."""

    def __init__(self, settings: Settings, publisher):
        self.settings = settings
        self.publisher = publisher  # callable returning the app's mibo.core.relay.Publisher

    async def send(self, phone: str, otp: str, expiry_minutes: int) -> None:
        message = Message(queue_name=DEFAULT_QUEUE, actor_name=SEND_OTP,
                          args=(seal(self.settings, phone, otp, expiry_minutes),), kwargs={},
                          options={"max_age": MESSAGE_MAX_AGE_MS})
        _, error = await self.publisher().publish([(None, message)])
        if error is not None:
            log_event(log, logging.WARNING, "otp not queued", phone=mask_phone(phone),
                      error=type(error).__name__)
            raise ApiError.unavailable("The OTP could not be sent right now; try again shortly",
                                       "OTP_DELIVERY_UNAVAILABLE")
        log_event(log, logging.INFO, "otp issued", phone=mask_phone(phone), channel="whatsapp")
