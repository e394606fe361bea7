"""Razorpay Checkout orders for an appointment, for every surface that takes online payments.

The order is made at Razorpay outside any database transaction: the attempt (a payments row)
is committed first, then Razorpay is asked, then the order id is stored. A concurrent request
for the same appointment finds the attempt and waits for its order instead of making a second
one. If the request making it dies, its lease runs out and the next request first looks the
order up at Razorpay by the attempt's receipt, so a lost answer never leaves two orders.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

from aiohttp import web

from mibo.api.keys import DB, EXECUTOR, SETTINGS
from mibo.core import db
from mibo.core.actor import Actor
from mibo.core.config import Settings
from mibo.core.errors import ApiError
from mibo.core.logs import log_event
from mibo.domain import payments
from mibo.providers.errors import ProviderError
from mibo.providers.razorpay_client import RazorpayClient

log = logging.getLogger(__name__)

WAIT_STEP_SECONDS = 0.05


def razorpay_client(settings: Settings) -> RazorpayClient:
    # A request waits on this call: fewer, shorter tries than the actors make.
    return RazorpayClient(settings, timeout=(3.0, 10.0), attempts=2, backoff=0.3)


def _order_sync(settings: Settings, attempt: dict, look_up_first: bool) -> dict:
    receipt = payments.receipt(attempt["id"])
    with contextlib.closing(razorpay_client(settings)) as client:
        found = client.find_order(receipt) if look_up_first else None
        return found or client.create_order(payments.to_paise(attempt["amount"]), payments.CURRENCY, receipt,
                                            {"appointmentId": str(attempt["appointment_id"])})


def signature_ok(settings: Settings, order_id: str, payment_id: str, signature: str) -> bool:
    # An HMAC over two short strings with the KEY secret: no I/O, fine on the event loop.
    with contextlib.closing(razorpay_client(settings)) as client:
        return client.verify_payment_signature(order_id, payment_id, signature)


async def order_for_appointment(app: web.Application, actor: Actor, appointment_id: int) -> dict:
    """The appointment's open checkout payment with its Razorpay order id (made if need be)."""
    pool = app[DB]
    async with db.transaction(pool) as cur:
        attempt = await payments.checkout_attempt(cur, actor, appointment_id, app[SETTINGS].registration_fee)
    mine = attempt.get("mine", False)
    while attempt["order_id"] is None:
        if not mine and attempt["order_lease_over"]:
            async with db.transaction(pool) as cur:
                mine = await payments.take_over_order(cur, attempt["id"])
        if mine:
            order_id = await _make_order(app, attempt, look_up_first=not attempt.get("mine", False))
            return {**attempt, "order_id": order_id}
        await asyncio.sleep(WAIT_STEP_SECONDS)  # another request is making it
        async with db.connection(pool) as cur:
            attempt = {**attempt, **await payments.order_attempt(cur, attempt["id"])}
    return attempt


async def _make_order(app: web.Application, attempt: dict, look_up_first: bool) -> str:
    call = functools.partial(_order_sync, app[SETTINGS], attempt, look_up_first)
    try:
        order = await asyncio.get_running_loop().run_in_executor(app[EXECUTOR], call)
    except ProviderError as exc:
        log_event(log, logging.WARNING, "razorpay order failed", paymentId=attempt["id"], error=exc.message,
                  status=exc.status)
        async with db.transaction(app[DB]) as cur:
            await payments.order_not_made(cur, attempt["id"])
        raise ApiError(502, "PAYMENT_PROVIDER_ERROR", "Razorpay could not create the order; try again") from None
    async with db.transaction(app[DB]) as cur:
        return await payments.store_order(cur, attempt["id"], order["id"])
