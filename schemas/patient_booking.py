"""Request shapes of the patient website's booking routes (/api/booking/*, the patient's cancel)."""

from marshmallow import fields, validate

from schemas.appointments import AppointmentSchema, Instant
from schemas.base import CamelSchema, TrimmedString

WEBSITE_TYPES = ("IN_PERSON", "ONLINE")


class CreateBookingSchema(CamelSchema):
    clinician_id = fields.Integer(required=True, validate=validate.Range(min=1))
    centre_id = fields.Integer(required=True, validate=validate.Range(min=1))
    appointment_date = fields.Date(required=True, metadata={"description": "YYYY-MM-DD at the centre"})
    appointment_time = fields.Time(required=True, format="%H:%M",
                                   metadata={"description": "HH:mm, wall clock at the centre"})
    appointment_type = fields.String(required=True, validate=validate.OneOf(WEBSITE_TYPES))
    appointment_date_utc = Instant(data_key="appointmentDateUTC",
                                   metadata={"description": "The same instant, if sent: it must agree"})
    patient_notes = TrimmedString(allow_none=True, validate=validate.Length(max=2000))


class BookingSchema(CamelSchema):
    appointment = fields.Nested(AppointmentSchema)


class PatientCancelSchema(CamelSchema):
    reason = TrimmedString(allow_none=True, validate=validate.Length(min=1, max=500))
