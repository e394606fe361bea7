"""Request and response shapes of /api/appointments/* (availability, booking, changes, cancel)."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.base import CamelSchema, PageQuerySchema, TrimmedString

MAX_ID = 2**63 - 1
MAX_RANGE_DAYS = 31
APPOINTMENT_TYPES = ("IN_PERSON", "ONLINE", "INPATIENT_ASSESSMENT", "FOLLOW_UP")
STATUSES = ("BOOKED", "CONFIRMED", "IN_PROGRESS", "RESCHEDULED", "COMPLETED", "CANCELLED", "NO_SHOW")
SOURCES = ("WEB_PATIENT", "ADMIN_FRONT_DESK", "ADMIN_CARE_COORDINATOR", "ADMIN_MANAGER")
SLOT_STATUSES = ("available", "booked", "blocked", "past")
SLOT_REASONS = "Why not available: APPOINTMENT, BLOCK, PAST, MIN_NOTICE, BUFFER, HORIZON or DAILY_CAP"


def Id(**kwargs) -> fields.Integer:  # noqa: N802 - reads like a field class
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def Instant(**kwargs) -> fields.AwareDateTime:  # noqa: N802
    """An ISO-8601 instant that must carry its offset: a naive time has no meaning across zones."""
    return fields.AwareDateTime(
        error_messages={"invalid_awareness": "Must include a UTC offset, e.g. 2026-01-15T10:00:00+05:30."},
        **kwargs,
    )


def Duration(**kwargs) -> fields.Integer:  # noqa: N802
    return fields.Integer(validate=validate.Range(min=5, max=480), **kwargs)


def Reason(**kwargs) -> TrimmedString:  # noqa: N802
    return TrimmedString(validate=validate.Length(min=1, max=500), **kwargs)


def check_date_range(data: dict) -> None:
    """`date`, or `from` with `to` (at most MAX_RANGE_DAYS days), shared by the date-filtered queries."""
    if "date" in data and ("from_" in data or "to" in data):
        raise ValidationError("Give either date or from/to, not both.", "date")
    if "from_" in data and "to" in data and data["to"] < data["from_"]:
        raise ValidationError("Must not be before from.", "to")


class AvailabilityQuerySchema(CamelSchema):
    clinician_id = Id(required=True)
    centre_id = Id()
    date = fields.Date()
    from_ = fields.Date()
    to = fields.Date()

    @validates_schema
    def one_date_or_a_range(self, data, **kwargs):
        check_date_range(data)
        if "date" not in data and not ("from_" in data and "to" in data):
            raise ValidationError("Give a date, or from and to.", "date")
        if "from_" in data and (data["to"] - data["from_"]).days >= MAX_RANGE_DAYS:
            raise ValidationError(f"A range is at most {MAX_RANGE_DAYS} days.", "to")


class AppointmentListQuerySchema(PageQuerySchema):
    centre_id = Id()
    clinician_id = Id()
    patient_id = Id()
    status = fields.String(validate=validate.OneOf(STATUSES))
    date = fields.Date()
    from_ = fields.Date()
    to = fields.Date()

    @validates_schema
    def dates(self, data, **kwargs):
        check_date_range(data)


class CreateAppointmentSchema(CamelSchema):
    patient_id = Id(required=True)
    clinician_id = Id(required=True)
    centre_id = Id(required=True)
    appointment_type = fields.String(required=True, validate=validate.OneOf(APPOINTMENT_TYPES))
    scheduled_start_at = Instant(required=True)
    duration_minutes = Duration()  # default: the clinician's default consultation duration
    notes = TrimmedString(allow_none=True, validate=validate.Length(max=2000))


class UpdateAppointmentSchema(CamelSchema):
    """A status change, a reschedule (scheduledStartAt, optionally durationMinutes and clinicianId),
    and/or new notes."""

    status = fields.String(validate=validate.OneOf(STATUSES))
    reason = Reason()
    scheduled_start_at = Instant()
    duration_minutes = Duration()
    clinician_id = Id()
    notes = TrimmedString(allow_none=True, validate=validate.Length(max=2000))

    @validates_schema
    def coherent(self, data, **kwargs):
        if not data:
            raise ValidationError("Send a status, a new scheduledStartAt or notes.", "status")
        rescheduling = "scheduled_start_at" in data
        for name, key in (("duration_minutes", "durationMinutes"), ("clinician_id", "clinicianId")):
            if name in data and not rescheduling:
                raise ValidationError("Only with a new scheduledStartAt (a reschedule).", key)
        if rescheduling and data.get("status", "RESCHEDULED") != "RESCHEDULED":
            raise ValidationError("A new time reschedules the appointment; leave status out.", "status")
        if data.get("status") == "RESCHEDULED" and not rescheduling:
            raise ValidationError("Give the new scheduledStartAt to reschedule.", "scheduledStartAt")
        if data.get("status") == "CANCELLED" and "reason" not in data:
            raise ValidationError("A cancellation needs a reason.", "reason")


class CancelAppointmentSchema(CamelSchema):
    reason = Reason(required=True)


class AppointmentSchema(CamelSchema):
    """An appointment as the API returns it; the names make a wrong booking visible at once."""

    id = fields.Integer()
    patient_id = fields.Integer()
    patient_name = fields.String()
    clinician_id = fields.Integer()
    clinician_name = fields.String()
    centre_id = fields.Integer()
    centre_name = fields.String()
    timezone = fields.String(metadata={"description": "The centre's IANA time zone"})
    appointment_type = fields.String(validate=validate.OneOf(APPOINTMENT_TYPES))
    scheduled_start_at = fields.DateTime()
    scheduled_end_at = fields.DateTime()
    duration_minutes = fields.Integer()
    status = fields.String(validate=validate.OneOf(STATUSES))
    parent_appointment_id = fields.Integer(allow_none=True)
    booked_by_user_id = fields.Integer(allow_none=True)
    source = fields.String(validate=validate.OneOf(SOURCES))
    meet_link = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    cancellation_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class CancellationRefundSchema(CamelSchema):
    """What a cancellation gives back of what was paid online, and when it arrives."""

    policy = fields.String(validate=validate.OneOf(("FULL", "NONE")), metadata={
        "description": "FULL: all that was paid through Razorpay; NONE: nothing to refund"})
    amount = fields.Float(metadata={"description": "Rupees asked back from Razorpay"})
    status = fields.String(allow_none=True, metadata={"description": "REQUESTED, or null when nothing is refunded"})
    expected_timeline = fields.String(allow_none=True, metadata={"description": "When the money reaches the patient"})


class CancelledAppointmentSchema(AppointmentSchema):
    refund = fields.Nested(CancellationRefundSchema)


class SlotSchema(CamelSchema):
    date = fields.Date(metadata={"description": "Local date at the centre"})
    start_at = fields.DateTime()
    end_at = fields.DateTime()
    local_start = fields.String(metadata={"description": "HH:MM, wall clock at the centre"})
    status = fields.String(validate=validate.OneOf(SLOT_STATUSES))
    reason = fields.String(allow_none=True, metadata={"description": SLOT_REASONS})
    centre_id = fields.Integer()


class AvailabilitySchema(CamelSchema):
    clinician_id = fields.Integer()
    clinician_name = fields.String()
    centre_id = fields.Integer(allow_none=True)
    from_ = fields.Date()
    to = fields.Date()
    slots = fields.List(fields.Nested(SlotSchema))
