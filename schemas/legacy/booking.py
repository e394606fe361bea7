"""The panel's front-desk booking and payments: a walk-in booked by phone, a payment link, money
taken at the desk."""

from __future__ import annotations

from marshmallow import fields, validate

from schemas.appointments import APPOINTMENT_TYPES
from schemas.base import Phone, TrimmedString
from schemas.legacy.appointments import NOTES, InCentreZone
from schemas.legacy.base import AnsweredId, PanelId, PanelSchema
from schemas.payments import DESK_METHODS


class PanelFrontDeskBookingSchema(PanelSchema):
    clinician_id = PanelId(data_key="clinicianId", required=True)
    centre_id = PanelId(data_key="centreId", required=True)
    patient_phone = Phone(data_key="patientPhone", required=True, metadata={"description": "Any accepted format"})
    patient_name = TrimmedString(data_key="patientName", required=True, validate=validate.Length(min=1, max=150))
    patient_email = fields.Email(data_key="patientEmail", allow_none=True, validate=validate.Length(max=255))
    appointment_type = fields.String(data_key="appointmentType", required=True,
                                     validate=validate.OneOf(APPOINTMENT_TYPES))
    appointment_date = fields.Date(data_key="appointmentDate", required=True,
                                   metadata={"description": "Local date at the centre"})
    appointment_time = fields.Time(data_key="appointmentTime", required=True, format="%H:%M",
                                   metadata={"description": "HH:MM, wall clock at the centre"})
    notes = TrimmedString(allow_none=True, validate=NOTES)


class PanelBookedAppointmentSchema(InCentreZone):
    INSTANTS = ("scheduled_start_at", "scheduled_end_at")

    id = AnsweredId()
    appointment_type = fields.String(data_key="appointmentType")
    scheduled_start_at = fields.DateTime(data_key="scheduledStartAt")
    scheduled_end_at = fields.DateTime(data_key="scheduledEndAt")
    duration_minutes = fields.Integer(data_key="durationMinutes")
    status = fields.String()
    notes = fields.String(allow_none=True)


class PanelBookedPatientSchema(PanelSchema):
    id = AnsweredId()
    name = fields.String(attribute="full_name")
    phone = fields.String()
    email = fields.String(allow_none=True)
    registered = fields.Boolean(metadata={"description": "Registered by this booking (no patient had the phone)"})


class PanelBookedClinicianSchema(PanelSchema):
    id = AnsweredId()
    name = fields.String()
    specialization = fields.String(allow_none=True)
    consultation_fee = fields.Float(data_key="consultationFee")


class PanelBookedCentreSchema(PanelSchema):
    id = AnsweredId()
    name = fields.String()
    address = fields.String(allow_none=True, attribute="address_line1")
    city = fields.String()


class PanelFrontDeskBookedSchema(PanelSchema):
    appointment = fields.Nested(PanelBookedAppointmentSchema)
    patient = fields.Nested(PanelBookedPatientSchema)
    clinician = fields.Nested(PanelBookedClinicianSchema)
    centre = fields.Nested(PanelBookedCentreSchema)
    payment_required = fields.Boolean(data_key="paymentRequired")
    amount = fields.Float()


class PanelSendLinkSchema(PanelSchema):
    """The link goes to the patient's phone on record; the phone and name sent are not used."""

    appointment_id = PanelId(data_key="appointmentId", required=True)
    patient_phone = fields.String(data_key="patientPhone", validate=validate.Length(max=30))
    patient_name = fields.String(data_key="patientName", validate=validate.Length(max=150))


class PanelPaymentLinkSchema(PanelSchema):
    payment_id = AnsweredId(data_key="paymentId", attribute="id")
    payment_link = fields.String(data_key="paymentLink", allow_none=True, attribute="payment_link_url",
                                       metadata={"description": "Null until the worker has made it"})
    whatsapp_sent = fields.Constant(False, data_key="whatsappSent", metadata={
        "description": "Always false here: the worker makes the link, then sends it over WhatsApp"})
    amount = fields.Float()
    expires_at = fields.DateTime(data_key="expiresAt", allow_none=True)
    status = fields.String()
    requested_now = fields.Boolean(data_key="requestedNow",
                                   metadata={"description": "False: an open link was already requested"})


class PanelDirectPaymentSchema(PanelSchema):
    payment_method = fields.String(data_key="paymentMethod", required=True, validate=validate.OneOf(DESK_METHODS))
    payment_notes = TrimmedString(data_key="paymentNotes", allow_none=True, validate=validate.Length(max=1000))


class PanelPaidAppointmentSchema(PanelSchema):
    id = AnsweredId()
    status = fields.String()


class PanelDeskPaidSchema(PanelSchema):
    id = AnsweredId()
    amount = fields.Float()
    method = fields.String(attribute="provider")
    status = fields.String()


class PanelDirectPaymentDoneSchema(PanelSchema):
    success = fields.Boolean()
    appointment = fields.Nested(PanelPaidAppointmentSchema)
    payment = fields.Nested(PanelDeskPaidSchema)
