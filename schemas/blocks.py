"""Request and response shapes of /api/clinicians/{id}/blocks."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validates_schema

from schemas.appointments import Id, Instant, Reason, check_date_range
from schemas.base import CamelSchema, PageQuerySchema

MAX_BLOCK_DAYS = 366


class CreateBlockSchema(CamelSchema):
    """One of: startAt + endAt (a slot or a range), date (a whole day), fromDate + toDate (whole days)."""

    start_at = Instant()
    end_at = Instant()
    date = fields.Date()
    from_date = fields.Date()
    to_date = fields.Date()
    centre_id = Id(
        allow_none=True, metadata={"description": "Only this centre's slots; omit for every centre"}
    )
    reason = Reason(required=True)
    cancel_appointments = fields.Boolean(load_default=False)

    @validates_schema
    def one_form(self, data, **kwargs):
        forms = [
            ("start_at" in data or "end_at" in data),
            "date" in data,
            ("from_date" in data or "to_date" in data),
        ]
        if sum(forms) != 1:
            raise ValidationError("Give startAt and endAt, or date, or fromDate and toDate.", "startAt")
        if forms[0]:
            if "start_at" not in data or "end_at" not in data:
                raise ValidationError("startAt and endAt go together.", "endAt")
            if data["end_at"] <= data["start_at"]:
                raise ValidationError("Must be after startAt.", "endAt")
        if forms[2]:
            if "from_date" not in data or "to_date" not in data:
                raise ValidationError("fromDate and toDate go together.", "toDate")
            if data["to_date"] < data["from_date"]:
                raise ValidationError("Must not be before fromDate.", "toDate")
            if (data["to_date"] - data["from_date"]).days >= MAX_BLOCK_DAYS:
                raise ValidationError(f"A block is at most {MAX_BLOCK_DAYS} days.", "toDate")


class BlockListQuerySchema(PageQuerySchema):
    from_ = fields.Date()
    to = fields.Date()

    @validates_schema
    def dates(self, data, **kwargs):
        check_date_range(data)


class BlockSchema(CamelSchema):
    id = fields.Integer()
    clinician_id = fields.Integer()
    centre_id = fields.Integer(allow_none=True)
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    reason = fields.String()
    created_by_user_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    removed_at = fields.DateTime(allow_none=True)
    removed_by_user_id = fields.Integer(allow_none=True)


class CreatedBlockSchema(BlockSchema):
    cancelled_appointment_ids = fields.List(fields.Integer())
