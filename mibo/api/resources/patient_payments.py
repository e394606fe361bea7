"""The patient website's own payment routes: the registration fee's status and failed checkouts.

Orders and verification are the staff routes (/api/payments/create-order, /verify), which take a
patient's token for the patient's own appointments. Settlement stays with the webhook and
reconciliation, as for every payment.
"""

from __future__ import annotations

from aiohttp import web

from mibo.api.access import patient
from mibo.api.apidoc import documented
from mibo.api.http import ok, read_json
from mibo.api.keys import ACTOR, DB, SETTINGS
from mibo.core import db
from mibo.domain import appointments, registration_fee, web_checkout
from schemas.patient_payments import (
    PaymentFailureResultSchema,
    PaymentFailureSchema,
    RegistrationFeeStatusSchema,
)

TAGS = ("Patient website",)


@patient
@documented("Whether the signed-in patient has paid the one-time registration fee", tags=TAGS,
            response=RegistrationFeeStatusSchema)
async def registration_fee_status(request: web.Request) -> web.Response:
    async with db.connection(request.app[DB]) as cur:
        found = await registration_fee.status(cur, request[ACTOR].patient_id, request.app[SETTINGS].registration_fee)
    return ok(RegistrationFeeStatusSchema().dump(found))


@patient
@documented("Report a checkout that failed or was closed: the unpaid booking is cancelled and its slot freed",
            tags=TAGS, body=PaymentFailureSchema, response=PaymentFailureResultSchema, errors=(404,))
async def payment_failure(request: web.Request) -> web.Response:
    body = await read_json(request, PaymentFailureSchema())
    reason = body.get("error_description") or body.get("error_code") or "Payment not completed"
    async with db.transaction(request.app[DB]) as cur:
        status = await web_checkout.checkout_failed(cur, request[ACTOR], body["appointment_id"],
                                                    body["razorpay_order_id"], reason, appointments.utc_now())
    return ok({"appointmentId": body["appointment_id"], "appointmentStatus": status})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/payments/registration-fee-status", registration_fee_status)
    app.router.add_post("/api/payments/failure", payment_failure)
