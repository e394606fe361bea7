"""Shapes of GET /api/audit."""

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.base import CamelSchema, PageQuerySchema


class AuditQuerySchema(PageQuerySchema):
    actor_user_id = fields.Integer(validate=validate.Range(min=1))
    entity_type = fields.String(validate=validate.Length(min=1, max=40))
    entity_id = fields.Integer(validate=validate.Range(min=1))
    action = fields.String(validate=validate.Length(min=1, max=60))
    centre_id = fields.Integer(validate=validate.Range(min=1))
    # Instants with an offset ("2026-11-01T00:00:00+05:30"); `to` is exclusive.
    from_ = fields.AwareDateTime(data_key="from")
    to = fields.AwareDateTime()

    @validates_schema
    def ordered(self, data, **kwargs):
        if "from_" in data and "to" in data and data["from_"] >= data["to"]:
            raise ValidationError("Must be after 'from'.", "to")


class AuditEntrySchema(CamelSchema):
    id = fields.Integer()
    actor_user_id = fields.Integer(allow_none=True)
    actor_name = fields.String(allow_none=True)
    actor_kind = fields.String()
    surface = fields.String()
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.Integer(allow_none=True)
    centre_id = fields.Integer(allow_none=True)
    request_id = fields.String(allow_none=True)
    details = fields.Dict()
    created_at = fields.DateTime()
