"""Shared helpers of the payment tests: an app pointed at the sandbox, booked appointments, webhook
delivery, and a stand-in for the worker that runs the payment and refund actors' work for queued
outbox rows."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from zoneinfo import ZoneInfo

from jobs.actors import payments as payment_jobs
from jobs.actors import refunds as refund_jobs
from mibo.api.app import init_app
from tests.factories import rows
from tests.factories import value as value  # the payment tests read values from here

KOLKATA = ZoneInfo("Asia/Kolkata")
# 10:00 in Kolkata two weeks from today: always ahead, so every payment rule sees a bookable appointment.
START = dt.datetime.combine(dt.datetime.now(KOLKATA).date() + dt.timedelta(days=14), dt.time(10),
                            KOLKATA).astimezone(dt.UTC)
FEE = 1500


async def payments_api(aiohttp_client, settings, pool, redis, otp_sender):
    """The API with its Razorpay client pointed at the sandbox (settings of `running_sandbox`)."""
    return await aiohttp_client(init_app(settings, pool=pool, redis=redis, otp_sender=otp_sender))


async def book(factory, centre_id: int, *, fee=FEE, start: dt.datetime = START, status: str = "BOOKED",
               clinician_id: int | None = None) -> dict:
    """A BOOKED appointment (by SQL, as the front desk would leave it) with its people."""
    if clinician_id is None:
        doctor = await factory.user(full_name="Dr Asha Rao")
        clinician_id = await factory.clinician_profile(doctor["id"], centre_id, consultation_fee=fee)
    patient = await factory.patient(full_name="Ravi Kumar")
    appointment_id = await factory.appointment(patient_id=patient["id"], clinician_id=clinician_id,
                                               centre_id=centre_id, start=start, status=status)
    return {"id": appointment_id, "patient": patient, "clinician_id": clinician_id, "centre_id": centre_id}


async def outbox_rows(factory, actor_name: str) -> list[tuple]:
    return await rows(factory, "SELECT id, args, dedupe_key FROM outbox WHERE actor_name = %s ORDER BY id",
                      (actor_name,))


class PaymentWorker:
    """Plays the worker for the payment actors: runs each queued payment outbox row once.

    The API's relay may already have published the rows to Redis (no worker consumes them
    here), so rows are picked by whether they are done, not by published_at; a row whose work
    raised stays open but is not run again by the same runner.
    """

    def __init__(self, pool, settings, factory):
        self.factory = factory
        self.done: set[int] = set()
        self.work = {
            "process_razorpay_event": lambda event_id: payment_jobs.handle_razorpay_event(pool, event_id),
            "create_payment_link": lambda pid: payment_jobs.make_payment_link(pool, settings, pid),
            "reconcile_payment": lambda pid: payment_jobs.reconcile_one(pool, settings, pid),
            "cancel_payment_link": lambda pid: payment_jobs.close_payment_link(pool, settings, pid),
            "issue_refund": lambda rid: refund_jobs.issue(pool, settings, rid),
            "reconcile_refund": lambda rid: refund_jobs.reconcile(pool, settings, rid),
        }

    async def run(self) -> list:
        outcomes = []
        queued = await rows(self.factory, "SELECT id, actor_name, args FROM outbox WHERE actor_name = ANY(%s)"
                                          " AND done_at IS NULL ORDER BY id", (list(self.work),))
        for outbox_id, actor_name, args in queued:
            if outbox_id not in self.done:
                self.done.add(outbox_id)
                outcomes.append(await self.work[actor_name](*args))
                # As the worker does once a step's work is done (jobs.steps).
                await rows(self.factory, "UPDATE outbox SET done_at = now() WHERE id = %s RETURNING id", (outbox_id,))
                self.done.discard(outbox_id)
        return outcomes


def checkout_signature(secret: str, order_id: str, payment_id: str) -> str:
    return hmac.new(secret.encode(), f"{order_id}|{payment_id}".encode(), hashlib.sha256).hexdigest()


async def create_order(api, staff, appointment_id: int):
    resp = await api.post("/api/payments/create-order", json={"appointmentId": appointment_id},
                          headers=staff.headers)
    return resp.status, await resp.json()


async def pay(sandbox, **body) -> dict:
    """Simulate a payment at the sandbox; the webhook comes back undelivered, for the test to send."""
    status, result = await sandbox.post("/_sandbox/razorpay/pay", body)
    assert status == 200, result
    return result


async def deliver(api, webhook: dict, *, body: bytes | None = None, headers: dict | None = None):
    """POST a sandbox-built webhook to the API exactly as Razorpay would (or tampered with)."""
    raw = body if body is not None else webhook["body"].encode()
    resp = await api.post("/api/payments/webhook", data=raw, headers=headers or webhook["headers"])
    return resp.status, await resp.json()


async def post_signed(api, settings, event, event_id: str):
    """POST a webhook body we wrote ourselves, signed with the webhook secret as Razorpay signs."""
    body = json.dumps(event).encode()
    signature = hmac.new(settings.razorpay_webhook_secret.encode(), body, hashlib.sha256).hexdigest()
    resp = await api.post("/api/payments/webhook", data=body, headers={
        "Content-Type": "application/json", "X-Razorpay-Signature": signature,
        "X-Razorpay-Event-Id": event_id})
    return resp.status, await resp.json()


async def paid(api, sandbox, staff, appointment_id: int, worker=None) -> dict:
    """Order, pay at the sandbox and deliver the signed webhook: the payment captured (SUCCESS once
    `worker` has run the event, or the real worker has); returns the sandbox's payment."""
    status, order = await create_order(api, staff, appointment_id)
    assert status == 200, order
    webhook = await pay(sandbox, orderId=order["data"]["orderId"], outcome="captured")
    status, body = await deliver(api, webhook)
    assert status == 200, body
    if worker is not None:
        assert await worker.run() == ["CONFIRMED"]
    return {**webhook["payment"], "paymentRowId": order["data"]["paymentId"]}
