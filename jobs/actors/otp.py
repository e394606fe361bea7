"""The send_otp actor: delivers a sealed OTP over WhatsApp (see jobs/otp_sender.py for why sealed)."""

from __future__ import annotations

import hashlib
import json
import logging

import dramatiq

from jobs import context
from jobs.actors.notifications import deliver
from jobs.options import MINUTE, options
from mibo.core import db
from mibo.core.logs import log_event
from mibo.domain.otp_delivery import KIND, MESSAGE_MAX_AGE_MS, SEND_OTP, TEMPLATE, unseal

log = logging.getLogger(__name__)

INSERT_OTP_NOTIFICATION = """
INSERT INTO notification_logs (idempotency_key, channel, kind, template_name, recipient_phone, payload)
VALUES (%s, 'WHATSAPP', %s, %s, %s, %s::jsonb)
ON CONFLICT (idempotency_key) DO NOTHING
"""

# Gallabox wants a recipient name; the sender of an OTP does not know who is asking.
RECIPIENT_NAME = "Mibo user"

OTP_NOTIFICATION_ID = "SELECT id FROM notification_logs WHERE idempotency_key = %s"


@dramatiq.actor(actor_name=SEND_OTP, **options(max_retries=3, max_backoff=30_000, time_limit=MINUTE,
                                                 max_age=MESSAGE_MAX_AGE_MS))
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
        await db.execute(cur, INSERT_OTP_NOTIFICATION,
                         (key, KIND, TEMPLATE, sealed["phone"], json.dumps(payload)))
        notification_id = await db.fetch_value(cur, OTP_NOTIFICATION_ID, (key,))
    await deliver(notification_id, secret_values={"otp": sealed["otp"]})
