"""The patient website's dashboard, appointments, payments and profile, in the website's own shapes.

The website reads snake_case items (and a few camelCase keys, named here with data_key), phones as
"91" and ten digits, its own gender names, and appointment times it shows with `new Date(...)`:
they are given with the offset of the centre's zone, the local time a patient expects.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from marshmallow import fields, validate

from schemas.base import CamelSchema, PageQuerySchema, SnakeSchema, TrimmedString
from schemas.patient_auth import WEBSITE_GENDERS, WebsiteGender
from schemas.patients import not_in_future


class ZonedDateTime(fields.DateTime):
    """An instant given in the zone named by its row's `timezone` (the centre's)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return super()._serialize(value.astimezone(ZoneInfo(obj["timezone"])), attr, obj, **kwargs)


class SitePhone(fields.String):
    """'919876543210': the website adds the '+' itself."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.removeprefix("+")


class SiteAppointmentSchema(SnakeSchema):
    id = fields.Integer()
    clinician_id = fields.Integer()
    clinician_name = fields.String()
    centre_id = fields.Integer()
    centre_name = fields.String()
    appointment_type = fields.String()
    scheduled_start_at = ZonedDateTime()
    scheduled_end_at = ZonedDateTime()
    duration_minutes = fields.Integer()
    status = fields.String()
    consultation_fee = fields.Float(allow_none=True)
    meet_link = fields.String(allow_none=True)
    created_at = ZonedDateTime()


class DashboardPatientSchema(SnakeSchema):
    id = fields.Integer()
    name = fields.String(attribute="full_name")
    phone = SitePhone()
    email = fields.String(allow_none=True)
    date_of_birth = fields.Date(allow_none=True)
    gender = WebsiteGender(allow_none=True)
    blood_group = fields.String(allow_none=True)


class StatisticsSchema(SnakeSchema):
    total_appointments = fields.Integer(data_key="totalAppointments")
    completed_appointments = fields.Integer(data_key="completedAppointments")
    upcoming_appointments = fields.Integer(data_key="upcomingAppointments", metadata={
        "description": "Booked or confirmed and not yet started"})
    total_spent = fields.Float(data_key="totalSpent", metadata={"description": "Rupees paid (successful payments)"})


class DashboardSchema(SnakeSchema):
    patient = fields.Nested(DashboardPatientSchema)
    statistics = fields.Nested(StatisticsSchema)
    upcoming_appointments = fields.List(fields.Nested(SiteAppointmentSchema), data_key="upcomingAppointments",
                                        metadata={"description": "Soonest first"})
    recent_appointments = fields.List(fields.Nested(SiteAppointmentSchema), data_key="recentAppointments",
                                      metadata={"description": "The latest past ones, newest first"})


class SiteListQuerySchema(SnakeSchema, PageQuerySchema):
    """limit/offset, the largest page by default: the website asks for no page and shows them all."""

    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=100))


class SiteAppointmentsSchema(SnakeSchema):
    appointments = fields.List(fields.Nested(SiteAppointmentSchema), metadata={"description": "Newest first"})
    total = fields.Integer()


class SitePaymentSchema(SnakeSchema):
    id = fields.Integer()
    appointment_id = fields.Integer(allow_none=True)
    amount = fields.Float(metadata={"description": "Rupees"})
    currency = fields.String()
    status = fields.String()
    channel = fields.String()
    razorpay_order_id = fields.String(attribute="order_id", allow_none=True)
    razorpay_payment_id = fields.String(attribute="payment_id", allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class SitePaymentsSchema(SnakeSchema):
    payments = fields.List(fields.Nested(SitePaymentSchema), metadata={"description": "Newest first"})
    total = fields.Integer()


class ProfileUserSchema(SnakeSchema):
    id = fields.Integer()
    phone = SitePhone()
    full_name = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    email = fields.String(allow_none=True)
    created_at = fields.DateTime()


class ProfileDetailsSchema(SnakeSchema):
    id = fields.Integer()
    date_of_birth = fields.Date(allow_none=True)
    age = fields.Integer(allow_none=True, metadata={"description": "Reckoned from date_of_birth"})
    gender = WebsiteGender(allow_none=True)
    blood_group = fields.String(allow_none=True)
    emergency_contact_name = fields.String(allow_none=True)
    emergency_contact_phone = fields.String(allow_none=True)


class ProfileSchema(SnakeSchema):
    user = fields.Nested(ProfileUserSchema)
    profile = fields.Nested(ProfileDetailsSchema)


class UpdateProfileSchema(CamelSchema):
    """What the website's profile form sends; any other field is refused."""

    first_name = TrimmedString(validate=validate.Length(min=1, max=74))
    last_name = TrimmedString(validate=validate.Length(min=1, max=75))
    email = fields.Email(allow_none=True, validate=validate.Length(max=255))
    date_of_birth = fields.Date(validate=not_in_future)
    age = fields.Integer(validate=validate.Range(min=0, max=150), metadata={
        "description": "Checked against dateOfBirth (a day either side allowed), never stored"})
    gender = WebsiteGender(metadata={"enum": list(WEBSITE_GENDERS)})
