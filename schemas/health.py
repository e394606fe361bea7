"""Response shape of /api/health."""

from marshmallow import fields, validate

from schemas.base import CamelSchema


class HealthSchema(CamelSchema):
    status = fields.String(validate=validate.OneOf(("healthy", "degraded", "unhealthy")))
    timestamp = fields.String()
    database = fields.String(validate=validate.OneOf(("connected", "disconnected")))
    redis = fields.String(validate=validate.OneOf(("connected", "disconnected")))
    version = fields.String()
    uptime = fields.Integer(metadata={"description": "Seconds since this API process started"})
