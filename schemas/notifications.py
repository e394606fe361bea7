"""Request and response shapes of /api/notifications/* and /api/video/*."""

from marshmallow import fields, validate

from schemas.base import CamelSchema, PageQuerySchema

NOTIFICATION_STATUSES = ("PENDING", "SENT", "FAILED", "SUPERSEDED")
NOTIFICATION_KINDS = ("APPOINTMENT_BOOKED", "APPOINTMENT_CONFIRMED", "APPOINTMENT_RESCHEDULED",
                      "APPOINTMENT_CANCELLED", "APPOINTMENT_REMINDER", "OTP", "PAYMENT_LINK", "REFUND",
                      "PAYMENT_REFUND_DUE")

class AppointmentRefSchema(CamelSchema):
    appointment_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**63 - 1))


class QueuedSchema(CamelSchema):
    appointment_id = fields.Integer()
    queued = fields.Boolean(metadata={"description": "false when the same work was already queued"})


class NotificationHistoryQuerySchema(PageQuerySchema):
    appointment_id = fields.Integer(validate=validate.Range(min=1, max=2**63 - 1))
    status = fields.String(validate=validate.OneOf(NOTIFICATION_STATUSES))
    kind = fields.String(validate=validate.Length(min=1, max=40))
    # Days in the chain's time zone (CHAIN_TIMEZONE), both inclusive.
    from_ = fields.Date(data_key="from")
    to = fields.Date()


class NotificationSchema(CamelSchema):
    id = fields.Integer()
    appointment_id = fields.Integer(allow_none=True)
    user_id = fields.Integer(allow_none=True)
    channel = fields.String()
    kind = fields.String()
    template_name = fields.String(allow_none=True)
    recipient_phone = fields.String(allow_none=True, metadata={"description": "masked: last 4 digits"})
    status = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    provider_message_id = fields.String(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class MeetLinkSchema(CamelSchema):
    appointment_id = fields.Integer()
    appointment_type = fields.String()
    meet_link = fields.String(allow_none=True)
    calendar_event_id = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "READY, PENDING (being created) or NOT_ONLINE"})
