"""The panel's slot grids: a clinician's slots on a day (/users/clinicians/{id}/slots) or over a
range (/booking/clinician-slots), each with its wall-clock start and end at the centre, its
consultation mode, and the block that closes it (whose id the panel unblocks by)."""

import datetime as dt

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.legacy.base import AnsweredId, PanelId, PanelSchema

MAX_RANGE_DAYS = 62  # the panel asks for the next 30 or 60 days at once


class DaySlotsQuerySchema(PanelSchema):
    date = fields.Date(required=True)
    centre_id = PanelId(data_key="centreId")


class RangeSlotsQuerySchema(PanelSchema):
    clinician_id = PanelId(required=True, data_key="clinicianId")
    start_date = fields.Date(required=True, data_key="startDate")
    end_date = fields.Date(required=True, data_key="endDate")
    centre_id = PanelId(data_key="centreId")

    @validates_schema
    def a_range(self, data, **kwargs):
        days = (data["end_date"] - data["start_date"]).days
        if days < 0:
            raise ValidationError("Must not be before startDate.", "endDate")
        if days >= MAX_RANGE_DAYS:
            raise ValidationError(f"A range is at most {MAX_RANGE_DAYS} days.", "endDate")


class PanelSlotSchema(PanelSchema):
    id = fields.String(metadata={"description": "date-HH:MM-centre: the slot's own key"})
    date = fields.String(metadata={"format": "date", "description": "Local date at the centre"})
    start_time = fields.String(data_key="startTime", metadata={"description": "HH:MM at the centre"})
    end_time = fields.String(data_key="endTime", metadata={"description": "HH:MM at the centre"})
    start_at = fields.String(data_key="startAt", metadata={"format": "date-time"})
    end_at = fields.String(data_key="endAt", metadata={"format": "date-time"})
    status = fields.String(validate=validate.OneOf(("available", "booked", "blocked", "past")))
    available = fields.Boolean()
    reason = fields.String(allow_none=True)
    centre_id = AnsweredId(data_key="centreId")
    mode = fields.String(allow_none=True)
    blocked_slot_id = AnsweredId(allow_none=True, data_key="blockedSlotId")


def local_time(instant: str, zone) -> str:
    return dt.datetime.fromisoformat(instant).astimezone(zone).strftime("%H:%M")
