"""The panel's front desk: a walk-in booked by phone (/booking/front-desk), a payment link
(/appointments/{id}/send-payment-link, /payment/send-link) and money taken at the desk
(/appointments/{id}/confirm-direct-payment).

A walk-in is the chain's patient with that phone, whatever format it is typed in, or is registered
then (mibo.domain.patients.match_or_register), and is booked by the normal booking rule; the time
is the centre's wall clock on the date given. Payments are the spec's (mibo.domain.payments).
"""

from __future__ import annotations

from aiohttp import web

from mibo.api import work
from mibo.api.access import requires
from mibo.api.http import path_id, read_json
from mibo.api.legacy.contract import panel_route
from mibo.api.legacy.envelope import ok
from mibo.core.actor import Actor
from mibo.domain import appointments, centres, clinicians, patients, payments
from mibo.domain.appointment_states import BOOKED
from schemas.legacy.booking import (
    PanelDirectPaymentDoneSchema,
    PanelDirectPaymentSchema,
    PanelFrontDeskBookedSchema,
    PanelFrontDeskBookingSchema,
    PanelPaymentLinkSchema,
    PanelSendLinkSchema,
)

PAYMENT_LINK = {"translates": ("POST", "/api/payments/payment-link"), "response": PanelPaymentLinkSchema,
                "errors": (400, 403, 404, 409)}


async def booked_walk_in(cur, actor: Actor, body: dict) -> dict:
    centre = await appointments.bookable_centre(cur, body["centre_id"])
    start = appointments.local_start(centre, body["appointment_date"], body["appointment_time"])
    patient, registered = await patients.match_or_register(cur, actor, {
        "full_name": body["patient_name"], "phone": body["patient_phone"], "email": body.get("patient_email"),
        "centre_id": centre["id"]})
    appointment_id = await appointments.book(
        cur, actor, patient_id=patient["id"], clinician_id=body["clinician_id"], centre_id=centre["id"],
        appointment_type=body["appointment_type"], start=start, duration_minutes=None, notes=body.get("notes"),
        now=appointments.utc_now())
    appointment = await appointments.appointment(cur, appointment_id)
    clinician = await clinicians.detail(cur, body["clinician_id"])
    return PanelFrontDeskBookedSchema().dump({
        "appointment": appointment, "patient": {**patient, "registered": registered},
        "clinician": clinician, "centre": await centres.centre_or_404(cur, centre["id"]),
        "payment_required": appointment["status"] == BOOKED, "amount": clinician["consultation_fee"]})


async def link(cur, actor: Actor, appointment_id: int) -> dict:
    payment, made = await payments.request_payment_link(cur, actor, appointment_id)
    return PanelPaymentLinkSchema().dump({**payment, "requested_now": made})


async def paid_at_desk(cur, actor: Actor, appointment_id: int, body: dict) -> dict:
    payment_id = await payments.record_desk_payment(
        cur, actor, appointment_id, method=body["payment_method"], amount=None, note=body.get("payment_notes"),
        reference=None, now=appointments.utc_now())
    appointment = await appointments.appointment(cur, appointment_id)
    return PanelDirectPaymentDoneSchema().dump({"success": True, "appointment": appointment,
                                                "payment": await payments.payment(cur, payment_id)})


@requires("appointments.create")
@panel_route("Book a walk-in by phone: the patient with that phone, else registered now",
             translates=("POST", "/api/appointments"), body=PanelFrontDeskBookingSchema,
             response=PanelFrontDeskBookedSchema, status=201, errors=(400, 403, 404, 409, 422))
async def front_desk_booking(request: web.Request) -> web.Response:
    body = await read_json(request, PanelFrontDeskBookingSchema())
    return ok(await work.write(request, booked_walk_in, body), message="Appointment booked successfully", status=201)


@requires("payments.record")
@panel_route("Send the appointment's payment link (made once; the worker sends it over WhatsApp)", **PAYMENT_LINK)
async def send_payment_link(request: web.Request) -> web.Response:
    return ok(await work.write(request, link, path_id(request)), message="Payment link sent successfully")


@requires("payments.record")
@panel_route("Send an appointment's payment link, named in the body", body=PanelSendLinkSchema, **PAYMENT_LINK)
async def send_link(request: web.Request) -> web.Response:
    body = await read_json(request, PanelSendLinkSchema())
    return ok(await work.write(request, link, body["appointment_id"]), message="Payment link sent successfully")


@requires("payments.record")
@panel_route("Money taken at the desk (what is due): the appointment is confirmed",
             translates=("POST", "/api/payments/desk"), body=PanelDirectPaymentSchema,
             response=PanelDirectPaymentDoneSchema, errors=(400, 403, 404, 409, 422))
async def confirm_direct_payment(request: web.Request) -> web.Response:
    appointment_id = path_id(request)
    body = await read_json(request, PanelDirectPaymentSchema())
    return ok(await work.write(request, paid_at_desk, appointment_id, body), message="Payment confirmed successfully")


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/booking/front-desk", front_desk_booking)
    app.router.add_post(r"/api/appointments/{id:\d+}/send-payment-link", send_payment_link)
    app.router.add_post("/api/payment/send-link", send_link)
    app.router.add_post(r"/api/appointments/{id:\d+}/confirm-direct-payment", confirm_direct_payment)
