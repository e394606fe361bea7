"""The send_otp actor: delivers a sealed OTP over WhatsApp (see mibo/domain/otp_delivery.py for why sealed)."""

from __future__ import annotations

import hashlib
import logging

from jobs import context
from jobs.actors.notifications import deliver
from jobs.broker import actor
from jobs.options import MINUTE, options
from mibo.core import db
from mibo.core.logs import log_event
from mibo.core.outbox import SEND_OTP
from mibo.domain import notifications
from mibo.domain.otp_delivery import KIND, MESSAGE_MAX_AGE_MS, TEMPLATE, unseal

log = logging.getLogger(__name__)

# Gallabox wants a recipient name; the sender of an OTP does not know who is asking.
RECIPIENT_NAME = "Mibo user"

OTP_NOTIFICATION_ID = "SELECT id FROM notification_logs WHERE idempotency_key = %s"


@actor(SEND_OTP, **options(max_retries=3, max_backoff=30_000, time_limit=MINUTE, max_age=MESSAGE_MAX_AGE_MS))
async def send_otp(token: str) -> None:
    sealed = unseal(context.settings(), token)
    if sealed is None:
        log_event(log, logging.WARNING, "otp message expired before delivery")
        return
    # Keyed by the ciphertext's digest: a retried message reuses its row and is sent once.
    key = "otp:" + hashlib.sha256(token.encode()).hexdigest()[:48]
    payload = {"name": RECIPIENT_NAME, "bodyValues": {"minutes": str(sealed["minutes"])}}
    pool = await context.pool()
    async with db.connection(pool) as cur:
        await notifications.add(cur, idempotency_key=key, kind=KIND, template_name=TEMPLATE,
                                recipient_phone=sealed["phone"], payload=payload)
        notification_id = await db.fetch_value(cur, OTP_NOTIFICATION_ID, (key,))
    await deliver(notification_id, secret_values={"otp": sealed["otp"]})
