"""The panel's appointments: its list and booking bodies, and the row it reads (snake_case, string ids,
as its Appointment type has them), with every instant written in the centre's own zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from marshmallow import ValidationError, fields, pre_dump, validate, validates_schema

from schemas.appointments import APPOINTMENT_TYPES, STATUSES, Duration, Instant, UpdateAppointmentSchema
from schemas.base import TrimmedString
from schemas.legacy.base import AnsweredId, PanelId, PanelSchema, same_as

NOTES = validate.Length(max=2000)


class InCentreZone(PanelSchema):
    """A row whose instants (INSTANTS) are written with the offset of its centre's zone (the row's
    `timezone`): the same instant, read as the centre's wall clock, e.g. 2026-12-08T09:00:00+05:30."""

    INSTANTS: tuple[str, ...] = ()

    @pre_dump
    def in_centre_zone(self, row, **kwargs):
        zone = ZoneInfo(row["timezone"])
        return {**row, **{name: row[name].astimezone(zone) for name in self.INSTANTS if row.get(name) is not None}}


class PanelAppointmentSchema(InCentreZone):
    INSTANTS = ("scheduled_start_at", "scheduled_end_at", "session_started_at", "session_ended_at", "created_at",
                "updated_at")

    id = AnsweredId()
    patient_id = AnsweredId(metadata={"description": "The patient profile's id"})
    patient_name = fields.String()
    patient_phone = fields.String(allow_none=True)
    patient_mrn = fields.String(allow_none=True)
    clinician_id = AnsweredId()
    clinician_name = fields.String()
    centre_id = AnsweredId()
    centre_name = fields.String()
    centre_address = fields.String(data_key="centreAddress", allow_none=True)
    timezone = fields.String(metadata={"description": "The centre's IANA zone, in which every instant is written"})
    local_date = fields.Method("local_date_of", metadata={"description": "YYYY-MM-DD at the centre"})
    local_start_time = fields.Method("local_start_of", metadata={"description": "HH:MM at the centre"})
    local_end_time = fields.Method("local_end_of", metadata={"description": "HH:MM at the centre"})
    appointment_type = fields.String(validate=validate.OneOf(APPOINTMENT_TYPES))
    scheduled_start_at = fields.DateTime()
    scheduled_end_at = fields.DateTime()
    duration_minutes = fields.Integer()
    status = fields.String(validate=validate.OneOf(STATUSES))
    notes = fields.String(allow_none=True)
    patient_notes = same_as("notes", metadata={"description": "The booking's notes (as notes)"})
    parent_appointment_id = AnsweredId(allow_none=True)
    booked_by_user_id = AnsweredId(allow_none=True)
    booked_by_user_name = fields.String(data_key="bookedByUserName", allow_none=True, attribute="booked_by_name")
    source = fields.String()
    meet_link = fields.String(allow_none=True)
    google_meet_link = same_as("meet_link", metadata={"description": "The Meet link (as meet_link)"})
    cancellation_reason = fields.String(allow_none=True)
    session_started_at = fields.DateTime(allow_none=True)
    session_ended_at = fields.DateTime(allow_none=True)
    blocked_slot_id = AnsweredId(allow_none=True, attribute="block_id",
                                     metadata={"description": "The block over this time, to unblock it"})
    payment_method = fields.String(allow_none=True, metadata={"description": "CASH, CARD, UPI or RAZORPAY, once paid"})
    payment_notes = fields.String(allow_none=True, attribute="payment_note")
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    # The dashboard's "recent appointments" card reads these three under camelCase names.
    patient_name_for_card = same_as("patient_name", data_key="patientName")
    clinician_name_for_card = same_as("clinician_name", data_key="clinicianName")
    scheduled_start_for_card = same_as("scheduled_start_at", data_key="scheduledStartAt")

    def local_date_of(self, row) -> str:
        return row["scheduled_start_at"].date().isoformat()

    def local_start_of(self, row) -> str:
        return row["scheduled_start_at"].strftime("%H:%M")

    def local_end_of(self, row) -> str:
        return row["scheduled_end_at"].strftime("%H:%M")


class PanelAppointmentListQuerySchema(PanelSchema):
    centre_id = PanelId(data_key="centreId")
    clinician_id = PanelId(data_key="clinicianId")
    patient_id = PanelId(data_key="patientId",
                         metadata={"description": "The patient profile's id (patient_id of a row)"})
    date = fields.Date(metadata={"description": "A local date at each appointment's centre"})
    status = fields.String(validate=validate.OneOf(STATUSES))


class PanelCreateAppointmentSchema(PanelSchema):
    """The panel books by the patient's user id (its Patient.userId)."""

    patient_id = PanelId(required=True, metadata={"description": "The patient's user id"})
    clinician_id = PanelId(required=True)
    centre_id = PanelId(required=True)
    appointment_type = fields.String(required=True, validate=validate.OneOf(APPOINTMENT_TYPES))
    scheduled_start_at = Instant(required=True)
    duration_minutes = Duration()
    notes = TrimmedString(allow_none=True, validate=NOTES)
    patient_notes = TrimmedString(allow_none=True, validate=NOTES)


class PanelUpdateAppointmentSchema(UpdateAppointmentSchema):
    """The spec's body (camelCase); a new time may also come without an offset, as the panel's
    reschedule form sends it: then it is the wall clock at the appointment's centre."""

    scheduled_start_at = fields.DateTime(metadata={
        "description": "ISO-8601; without an offset, the wall clock at the appointment's centre"})


class PanelNotesSchema(PanelSchema):
    notes = TrimmedString(required=True, allow_none=True, validate=NOTES)


def check_days(data: dict, first: tuple[str, str], last: tuple[str, str], most: int) -> None:
    """first..last, each (attribute, wire name), both days included: in order and at most `most` days."""
    (first_name, first_key), (last_name, last_key) = first, last
    if data[last_name] < data[first_name]:
        raise ValidationError(f"Must not be before {first_key}.", last_key)
    if (data[last_name] - data[first_name]).days >= most:
        raise ValidationError(f"A range is at most {most} days.", last_key)


class PanelDayRangeQuerySchema(PanelSchema):
    """A clinician's dashboard: local dates at their primary centre, both days included."""

    MAX_DAYS = 92

    start_date = fields.Date(data_key="startDate", required=True)
    end_date = fields.Date(data_key="endDate", required=True)

    @validates_schema
    def a_range(self, data, **kwargs):
        check_days(data, ("start_date", "startDate"), ("end_date", "endDate"), self.MAX_DAYS)


class PanelDayAppointmentsQuerySchema(PanelDayRangeQuerySchema):
    status = fields.String(validate=validate.OneOf(STATUSES))


class PanelDayStatisticsSchema(PanelSchema):
    total = fields.Integer()
    waiting = fields.Integer(metadata={"description": "BOOKED"})
    confirmed = fields.Integer()
    ongoing = fields.Integer(metadata={"description": "IN_PROGRESS"})
    completed = fields.Integer()
    cancelled = fields.Integer()


class PanelSummarySchema(PanelSchema):
    current_count = fields.Integer(data_key="currentCount")
    upcoming_count = fields.Integer(data_key="upcomingCount")
    past_count = fields.Integer(data_key="pastCount")


class PanelMyAppointmentsSchema(PanelSchema):
    current = fields.List(fields.Nested(PanelAppointmentSchema), metadata={"description": "In session or under way"})
    upcoming = fields.List(fields.Nested(PanelAppointmentSchema))
    past = fields.List(fields.Nested(PanelAppointmentSchema), metadata={"description": "Latest first"})
    summary = fields.Nested(PanelSummarySchema)


class PanelSessionNotesSchema(PanelSchema):
    session_notes = TrimmedString(required=True, validate=validate.Length(min=1, max=20000))


class PanelPreviousNotesQuerySchema(PanelSchema):
    patient_id = PanelId(data_key="patientId",
                         metadata={"description": "The appointment's patient (patient_id of its row)"})


class PanelSessionNoteSchema(PanelSchema):
    """A clinical note of a session (a medical note of the patient, tied to the appointment)."""

    id = AnsweredId()
    appointment_id = AnsweredId(allow_none=True)
    patient_id = AnsweredId()
    session_notes = fields.String(attribute="note")
    author_name = fields.String()
    scheduled_start_at = fields.DateTime(
        metadata={"description": "The appointment's start (the note's own time for a note of no appointment)"})
    appointment_type = fields.String(allow_none=True)
    status = fields.String(allow_none=True, attribute="appointment_status")
    created_at = fields.DateTime()


class PanelFollowUpSchema(PanelSchema):
    follow_up_date = fields.Date(required=True, metadata={"description": "A local date at the centre"})
    follow_up_notes = TrimmedString(allow_none=True, validate=NOTES)
