"""Query and response shapes of /api/analytics/* (the spec's DashboardMetrics and its siblings)."""

from marshmallow import fields, validate

from schemas.base import CamelSchema

PERIODS = ("week", "month", "year")
SOURCES = ("WEB_PATIENT", "ADMIN_FRONT_DESK", "ADMIN_CARE_COORDINATOR", "ADMIN_MANAGER")


class AnalyticsQuerySchema(CamelSchema):
    period = fields.String(load_default="month", validate=validate.OneOf(PERIODS))
    centre_id = fields.Integer(validate=validate.Range(min=1, max=2**63 - 1))


class TopDoctorsQuerySchema(AnalyticsQuerySchema):
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))


class PeriodSchema(CamelSchema):
    """The window the figures cover: [startsAt, endsAt), compared with [previousStartsAt, startsAt)."""

    name = fields.String()
    timezone = fields.String()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    previous_starts_at = fields.DateTime()


class DashboardMetricsSchema(CamelSchema):
    # Each *Change is the percentage against the previous equal period, one decimal;
    # null when the previous period had 0 and this one has more (no finite percentage).
    total_patients = fields.Integer()
    total_patients_change = fields.Float(allow_none=True)
    active_doctors = fields.Integer()
    active_doctors_change = fields.Float(allow_none=True)
    follow_ups_booked = fields.Integer()
    follow_ups_booked_change = fields.Float(allow_none=True)
    total_revenue = fields.Float()
    total_revenue_change = fields.Float(allow_none=True)
    period = fields.Nested(PeriodSchema)


class TopDoctorSchema(CamelSchema):
    clinician_id = fields.Integer()
    name = fields.String()
    specialization = fields.String()
    appointments = fields.Integer()
    completed_appointments = fields.Integer()
    no_shows = fields.Integer()
    # NO_SHOW / (COMPLETED + NO_SHOW) in percent; null while no appointment has an outcome.
    no_show_rate = fields.Float(allow_none=True)
    revenue = fields.Float()


class RevenueDataPointSchema(CamelSchema):
    date = fields.Date()  # first day of the bucket, in the period's time zone
    revenue = fields.Float()
    payments = fields.Integer()


class LeadSourceSchema(CamelSchema):
    source = fields.String(validate=validate.OneOf(SOURCES))
    count = fields.Integer()
    percentage = fields.Float()  # share of all leads in the period, one decimal
