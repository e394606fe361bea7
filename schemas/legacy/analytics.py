"""The panel's dashboard charts: top doctors {id, name, specialty, avatar, patientCount}, revenue
{date, value} and leads {label, value, color}; the cards are the spec's DashboardMetrics, with a
change the previous period cannot give (nothing to compare with) answered as 0."""

from marshmallow import fields

from schemas.legacy.base import AnsweredId, PanelSchema


class PanelDashboardSchema(PanelSchema):
    total_patients = fields.Integer(data_key="totalPatients")
    total_patients_change = fields.Float(data_key="totalPatientsChange")
    active_doctors = fields.Integer(data_key="activeDoctors")
    active_doctors_change = fields.Float(data_key="activeDoctorsChange")
    follow_ups_booked = fields.Integer(data_key="followUpsBooked")
    follow_ups_booked_change = fields.Float(data_key="followUpsBookedChange")
    total_revenue = fields.Float(data_key="totalRevenue")
    total_revenue_change = fields.Float(data_key="totalRevenueChange")


class PanelTopDoctorSchema(PanelSchema):
    id = AnsweredId(attribute="clinician_id")
    name = fields.String()
    specialty = fields.String(attribute="specialization")
    avatar = fields.String(allow_none=True)
    patient_count = fields.Integer(attribute="appointments", data_key="patientCount",
                                   metadata={"description": "Appointments held with the clinician in the period"})


class PanelRevenuePointSchema(PanelSchema):
    date = fields.Date()
    value = fields.Float(attribute="revenue")


class PanelLeadSchema(PanelSchema):
    label = fields.String()
    value = fields.Integer(attribute="count")
    color = fields.String()
    source = fields.String()
