"""The panel's front-desk booking and payments: a walk-in booked by phone, a payment link, money
taken at the desk."""

from __future__ import annotations

from marshmallow import fields, pre_load, validate

from schemas.appointments import APPOINTMENT_TYPES, Id
from schemas.base import Phone, TrimmedString
from schemas.legacy.appointments import NOTES, InCentreZone
from schemas.legacy.base import PanelSchema, camel
from schemas.payments import DESK_METHODS


class PanelFrontDeskBookingSchema(PanelSchema):
    clinician_id = camel(Id(required=True), "clinicianId")
    centre_id = camel(Id(required=True), "centreId")
    patient_phone = camel(Phone(required=True, metadata={"description": "Any accepted format"}), "patientPhone")
    patient_name = camel(TrimmedString(required=True, validate=validate.Length(min=1, max=150)), "patientName")
    patient_email = camel(fields.Email(allow_none=True, validate=validate.Length(max=255)), "patientEmail")
    appointment_type = camel(fields.String(required=True, validate=validate.OneOf(APPOINTMENT_TYPES)),
                             "appointmentType")
    appointment_date = camel(fields.Date(required=True, metadata={"description": "Local date at the centre"}),
                             "appointmentDate")
    appointment_time = camel(fields.Time(required=True, format="%H:%M",
                                         metadata={"description": "HH:MM, wall clock at the centre"}),
                             "appointmentTime")
    notes = TrimmedString(allow_none=True, validate=NOTES)

    @pre_load
    def empty_email_is_none(self, data, **kwargs):
        # The panel's form sends "" for an e-mail left blank.
        if isinstance(data, dict) and data.get("patientEmail") == "":
            return {**data, "patientEmail": None}
        return data


class PanelBookedAppointmentSchema(InCentreZone):
    INSTANTS = ("scheduled_start_at", "scheduled_end_at")

    id = fields.String()
    appointment_type = camel(fields.String(), "appointmentType")
    scheduled_start_at = camel(fields.DateTime(), "scheduledStartAt")
    scheduled_end_at = camel(fields.DateTime(), "scheduledEndAt")
    duration_minutes = camel(fields.Integer(), "durationMinutes")
    status = fields.String()
    notes = fields.String(allow_none=True)


class PanelBookedPatientSchema(PanelSchema):
    id = fields.String()
    name = fields.String(attribute="full_name")
    phone = fields.String()
    email = fields.String(allow_none=True)
    registered = fields.Boolean(metadata={"description": "Registered by this booking (no patient had the phone)"})


class PanelBookedClinicianSchema(PanelSchema):
    id = fields.String()
    name = fields.String()
    specialization = fields.String(allow_none=True)
    consultation_fee = camel(fields.Float(), "consultationFee")


class PanelBookedCentreSchema(PanelSchema):
    id = fields.String()
    name = fields.String()
    address = fields.String(allow_none=True, attribute="address_line1")
    city = fields.String()


class PanelFrontDeskBookedSchema(PanelSchema):
    appointment = fields.Nested(PanelBookedAppointmentSchema)
    patient = fields.Nested(PanelBookedPatientSchema)
    clinician = fields.Nested(PanelBookedClinicianSchema)
    centre = fields.Nested(PanelBookedCentreSchema)
    payment_required = camel(fields.Boolean(), "paymentRequired")
    amount = fields.Float()


class PanelSendLinkSchema(PanelSchema):
    """The link goes to the patient's phone on record; the phone and name sent are not used."""

    appointment_id = camel(Id(required=True), "appointmentId")
    patient_phone = camel(fields.String(validate=validate.Length(max=30)), "patientPhone")
    patient_name = camel(fields.String(validate=validate.Length(max=150)), "patientName")


class PanelPaymentLinkSchema(PanelSchema):
    payment_id = camel(fields.Integer(attribute="id"), "paymentId")
    payment_link = camel(fields.String(allow_none=True, attribute="payment_link_url",
                                       metadata={"description": "Null until the worker has made it"}),
                         "paymentLink")
    whatsapp_sent = camel(fields.Constant(False, metadata={
        "description": "Always false here: the worker makes the link, then sends it over WhatsApp"}), "whatsappSent")
    amount = fields.Float()
    expires_at = camel(fields.DateTime(allow_none=True), "expiresAt")
    status = fields.String()
    requested_now = camel(fields.Boolean(metadata={"description": "False: an open link was already requested"}),
                          "requestedNow")


class PanelDirectPaymentSchema(PanelSchema):
    payment_method = camel(fields.String(required=True, validate=validate.OneOf(DESK_METHODS)), "paymentMethod")
    payment_notes = camel(TrimmedString(allow_none=True, validate=validate.Length(max=1000)), "paymentNotes")


class PanelPaidAppointmentSchema(PanelSchema):
    id = fields.String()
    status = fields.String()


class PanelDeskPaidSchema(PanelSchema):
    id = fields.Integer()
    amount = fields.Float()
    method = fields.String(attribute="provider")
    status = fields.String()


class PanelDirectPaymentDoneSchema(PanelSchema):
    success = fields.Boolean()
    appointment = fields.Nested(PanelPaidAppointmentSchema)
    payment = fields.Nested(PanelDeskPaidSchema)
