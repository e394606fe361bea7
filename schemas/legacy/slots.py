"""The panel's slot blocking (/admin/slots/*) and clinician slot exceptions: wall-clock times on a
local date at the centre, the blocks it lists and the patients a block affects."""

from __future__ import annotations

from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from schemas.appointments import APPOINTMENT_TYPES
from schemas.base import TrimmedString
from schemas.legacy.appointments import InCentreZone, check_days
from schemas.legacy.base import AnsweredId, AnsweredIds, PanelId, PanelSchema

HH_MM = "%H:%M"
MAX_SLOTS = 100
# The panel may leave the reason blank; the block keeps one all the same.
DEFAULT_REASON = "Clinician unavailable"


def Wall(**kwargs) -> fields.Time:  # noqa: N802 - reads like a field class
    return fields.Time(format=HH_MM, metadata={"description": "HH:MM, wall clock at the centre"}, **kwargs)


def BlankableReason(**kwargs) -> TrimmedString:  # noqa: N802
    return TrimmedString(allow_none=True, validate=validate.Length(max=500), **kwargs)


def reason_of(text: str | None) -> str:
    return text or DEFAULT_REASON


def check_times(data: dict, start: str, end: str) -> None:
    if start in data and end in data and data[end] <= data[start]:
        raise ValidationError("Must be after the start time.", end)


class PanelSlotSchema(PanelSchema):
    clinician_id = PanelId(required=True)
    centre_id = PanelId(required=True)
    date = fields.Date(required=True, metadata={"description": "Local date at the centre"})
    start_time = Wall(required=True)
    end_time = Wall(required=True)
    reason = BlankableReason()

    @validates_schema
    def times(self, data, **kwargs):
        check_times(data, "start_time", "end_time")


class PanelBlockMultipleSchema(PanelSchema):
    slots = fields.List(fields.Nested(PanelSlotSchema), required=True,
                        validate=validate.Length(min=1, max=MAX_SLOTS))
    reason = BlankableReason(metadata={"description": "For every slot; else each slot's own"})


class PanelSlotsSchema(PanelSchema):
    slots = fields.List(fields.Nested(PanelSlotSchema), required=True,
                        validate=validate.Length(min=1, max=MAX_SLOTS))


class PanelBlockDaySchema(PanelSchema):
    clinician_id = PanelId(required=True)
    centre_id = PanelId(required=True)
    date = fields.Date(required=True, metadata={"description": "Local date at the centre"})
    reason = BlankableReason()


class PanelBlockedQuerySchema(PanelSchema):
    MAX_DAYS = 366

    clinician_id = PanelId()
    centre_id = PanelId()
    date_from = fields.Date(metadata={"description": "Local date at the block's centre"})
    date_to = fields.Date()
    is_blocked = fields.Boolean(load_default=True, metadata={"description": "false: the blocks removed"})

    @validates_schema
    def a_range(self, data, **kwargs):
        if "date_from" in data and "date_to" in data:
            check_days(data, ("date_from", "date_from"), ("date_to", "date_to"), self.MAX_DAYS)


class PanelSlotExceptionSchema(PanelSchema):
    centre_id = PanelId(data_key="centreId", required=True)
    exception_date = fields.Date(data_key="exceptionDate", required=True,
                                 metadata={"description": "Local date at the centre"})
    start_time = Wall(data_key="startTime", required=True)
    end_time = Wall(data_key="endTime", required=True)
    mode = fields.String(validate=validate.OneOf(APPOINTMENT_TYPES),
                         metadata={"description": "Accepted; a block covers every mode"})
    reason = BlankableReason()

    @validates_schema
    def times(self, data, **kwargs):
        check_times(data, "start_time", "end_time")

    @post_load
    def as_span(self, data, **kwargs):
        return {**data, "date": data["exception_date"]}


class LocalSpan(InCentreZone):
    """A block's span read on the centre's wall clock."""

    def start_date(self, row) -> str:
        return row["starts_at"].date().isoformat()

    def start_wall(self, row) -> str:
        return row["starts_at"].strftime(HH_MM)

    def end_date_of(self, row) -> str:
        return row["ends_at"].date().isoformat()

    def end_wall(self, row) -> str:
        return row["ends_at"].strftime(HH_MM)


class PanelBlockedSlotSchema(LocalSpan):
    INSTANTS = ("starts_at", "ends_at", "created_at", "removed_at")

    id = AnsweredId()
    clinician_id = AnsweredId()
    clinician_name = fields.String()
    centre_id = AnsweredId(allow_none=True, metadata={"description": "Null: every centre of the clinician"})
    centre_name = fields.String()
    blocked_date = fields.Method("start_date", metadata={"description": "Local date of the start at the centre"})
    start_time = fields.Method("start_wall", metadata={"description": "HH:MM at the centre"})
    end_date = fields.Method("end_date_of", metadata={"description": "Local date of the end (a day after, for a"
                                                                     " block to midnight)"})
    end_time = fields.Method("end_wall", metadata={"description": "HH:MM at the centre"})
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    reason = fields.String()
    blocked_by_admin_id = AnsweredId(allow_none=True, attribute="created_by_user_id")
    blocked_by_admin_name = fields.String(allow_none=True, attribute="created_by_name")
    blocked_at = fields.DateTime(attribute="created_at")
    is_blocked = fields.Method("active")
    unblocked_at = fields.DateTime(allow_none=True, attribute="removed_at")

    def active(self, row) -> bool:
        return row.get("removed_at") is None


class PanelBlockedListSchema(PanelSchema):
    blocked_slots = fields.List(fields.Nested(PanelBlockedSlotSchema))
    total = fields.Integer()


class PanelAffectedPatientSchema(InCentreZone):
    INSTANTS = ("scheduled_start_at",)

    patient_id = AnsweredId()
    patient_name = fields.String()
    patient_phone = fields.String(allow_none=True)
    patient_email = fields.String(allow_none=True)
    appointment_id = AnsweredId(attribute="id")
    appointment_time = fields.DateTime(attribute="scheduled_start_at")
    appointment_status = fields.String(attribute="status")
    clinician_name = fields.String()
    payment_status = fields.String(allow_none=True)
    refund_eligible = fields.Method("paid", metadata={"description": "Paid: cancelling asks for the refund"})

    def paid(self, row) -> bool:
        return row["payment_status"] == "SUCCESS"


class PanelBlockedOneSchema(PanelSchema):
    blocked_slot = fields.Nested(PanelBlockedSlotSchema)
    affected_patients = fields.List(fields.Nested(PanelAffectedPatientSchema))


class PanelFailedSlotSchema(PanelSchema):
    slot = fields.Dict(metadata={"description": "The slot as sent"})
    error = fields.String()
    code = fields.String()


class PanelBlockResultSchema(PanelSchema):
    success = fields.Boolean(metadata={"description": "Every slot blocked"})
    blocked_count = fields.Integer(metadata={"description": "Slots blocked (block-day: the day's slots it covers)"})
    failed_count = fields.Integer()
    blocked_slot_ids = AnsweredIds()
    failed_slots = fields.List(fields.Nested(PanelFailedSlotSchema))
    affected_patients = fields.List(fields.Nested(PanelAffectedPatientSchema))


class PanelAffectedListSchema(PanelSchema):
    affected_patients = fields.List(fields.Nested(PanelAffectedPatientSchema))
    total_count = fields.Integer()


class PanelSlotExceptionResultSchema(LocalSpan):
    INSTANTS = ("starts_at", "ends_at", "created_at")

    id = AnsweredId()
    clinician_id = AnsweredId(data_key="clinicianId")
    centre_id = AnsweredId(data_key="centreId")
    exception_date = fields.Method("start_date", data_key="exceptionDate")
    start_time = fields.Method("start_wall", data_key="startTime")
    end_time = fields.Method("end_wall", data_key="endTime")
    mode = fields.String(allow_none=True)
    reason = fields.String()
    created_at = fields.DateTime(data_key="createdAt")
