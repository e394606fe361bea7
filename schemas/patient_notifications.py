"""The patient website's notifications, in its shapes (snake_case, as its notifications module reads)."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validates_schema

from schemas.base import CamelSchema, PageQuerySchema, SnakeSchema
from schemas.patient_dashboard import ZonedDateTime


class NotificationQuerySchema(SnakeSchema, PageQuerySchema):
    unread_only = fields.Boolean(load_default=False)
    date_from = fields.Date(metadata={"description": "First day (in the chain's zone) to list"})
    date_to = fields.Date(metadata={"description": "Last day (in the chain's zone) to list"})

    @validates_schema
    def days_in_order(self, data, **kwargs):
        if "date_from" in data and "date_to" in data and data["date_to"] < data["date_from"]:
            raise ValidationError("Must not be before date_from.", "date_to")


class PatientNotificationSchema(SnakeSchema):
    id = fields.Integer()
    patient_id = fields.Integer()
    notification_type = fields.String(attribute="kind", metadata={
        "description": "APPOINTMENT_BOOKED, _CONFIRMED, _RESCHEDULED, _REMINDER, _CANCELLED, APPOINTMENT_BLOCKED "
                       "(cancelled because the clinician became unavailable), PAYMENT_LINK or REFUND_INITIATED"})
    title = fields.String()
    message = fields.String()
    appointment_id = fields.Integer(allow_none=True)
    metadata = fields.Dict()
    is_read = fields.Boolean()
    read_at = ZonedDateTime(allow_none=True)
    created_at = ZonedDateTime(metadata={"description": "In the zone of the appointment's centre, else the chain's"})


class PatientNotificationsSchema(SnakeSchema):
    notifications = fields.List(fields.Nested(PatientNotificationSchema), metadata={"description": "Newest first"})
    unread_count = fields.Integer()


class UnreadCountSchema(SnakeSchema):
    unread_count = fields.Integer()


class MarkReadSchema(CamelSchema):
    """The website sends an empty object."""
