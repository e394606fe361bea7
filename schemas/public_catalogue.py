"""Shapes of the patient website's public reads: the clinician catalogue and the free slots.

The catalogue carries public fields only; the fields the website reads that the records do not
keep (qualification, bio, expertise, languages) are answered empty rather than left out.
"""

import datetime as dt

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.base import CamelSchema, SnakeSchema

# The website asks for the next 60 days at once.
MAX_RANGE_DAYS = 60


class PublicCliniciansQuerySchema(CamelSchema):
    is_active = fields.Boolean(metadata={"description": "Only bookable clinicians are listed; false lists none"})
    centre_id = fields.Integer(validate=validate.Range(min=1), metadata={"description": "Based at this centre"})


class PublicClinicianSchema(CamelSchema):
    id = fields.Integer()
    user_id = fields.Integer()
    full_name = fields.String()
    name = fields.String(metadata={"description": "The same as fullName"})
    primary_centre_id = fields.Integer()
    primary_centre_name = fields.String()
    specialization = fields.String()
    qualification = fields.Constant(None, dump_only=True)
    designation = fields.String(allow_none=True)
    years_of_experience = fields.Integer()
    consultation_fee = fields.Float()
    consultation_modes = fields.List(fields.String(validate=validate.OneOf(("IN_PERSON", "ONLINE"))))
    default_duration_minutes = fields.Integer()
    bio = fields.Constant(None, dump_only=True)
    profile_picture_url = fields.String(allow_none=True)
    expertise = fields.Constant([], dump_only=True, metadata={"type": "array", "items": {"type": "string"}})
    languages = fields.Constant([], dump_only=True, metadata={"type": "array", "items": {"type": "string"}})
    is_active = fields.Boolean()


class PublicCentreSchema(SnakeSchema):
    """A centre as the website reads it (snake_case)."""

    id = fields.Integer()
    name = fields.String()
    city = fields.String()
    address_line_1 = fields.String(attribute="address_line1", allow_none=True)
    address_line_2 = fields.String(attribute="address_line2", allow_none=True)
    pincode = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True)
    is_active = fields.Boolean()


class SlotsQuerySchema(CamelSchema):
    clinician_id = fields.Integer(required=True, validate=validate.Range(min=1))
    centre_id = fields.Integer(required=True, validate=validate.Range(min=1))


class DatesWithSlotsQuerySchema(SlotsQuerySchema):
    start_date = fields.Date(required=True, metadata={"description": "YYYY-MM-DD in the centre's zone"})
    end_date = fields.Date(required=True, metadata={"description": f"At most {MAX_RANGE_DAYS} days after startDate"})

    @validates_schema
    def a_short_range(self, data, **kwargs):
        first, last = data.get("start_date"), data.get("end_date")
        if first and last and not dt.timedelta(0) <= last - first <= dt.timedelta(days=MAX_RANGE_DAYS):
            raise ValidationError(f"Must be on or after startDate and at most {MAX_RANGE_DAYS} days after it.",
                                  "endDate")


class DateSlotCountSchema(CamelSchema):
    date = fields.String(metadata={"description": "YYYY-MM-DD"})
    slot_count = fields.Integer()


class AvailableSlotsQuerySchema(SlotsQuerySchema):
    date = fields.Date(required=True, metadata={"description": "YYYY-MM-DD in the centre's zone"})


class PublicSlotSchema(CamelSchema):
    start_time = fields.String(metadata={"description": "HH:mm in the centre's zone"})
    end_time = fields.String(metadata={"description": "HH:mm in the centre's zone"})
    available = fields.Boolean()


class AvailableSlotsSchema(CamelSchema):
    date = fields.String()
    slots = fields.List(fields.Nested(PublicSlotSchema))
