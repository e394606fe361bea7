"""The panel's patients page: bodies camelCase with the emergency contact flat and the gender in
lower case ("male"), blank fields as empty strings; rows with the MRN, notes, visit counts and the
next appointment. The panel addresses a patient by their user id (PUT /patients/{userId})."""

from marshmallow import fields, post_load, validate

from schemas.base import Phone, TrimmedString
from schemas.legacy.base import AnsweredId, PanelId, PanelSchema, same_as
from schemas.patients import BLOOD_GROUPS, GENDERS, not_in_future

PANEL_GENDERS = tuple(gender.lower() for gender in GENDERS)


class PanelPatientQuerySchema(PanelSchema):
    search = TrimmedString(validate=validate.Length(min=1, max=100))


class PanelPatientFieldsSchema(PanelSchema):
    full_name = TrimmedString(data_key="fullName", validate=validate.Length(min=1, max=150))
    phone = Phone()
    email = fields.Email(allow_none=True, validate=validate.Length(max=255))
    date_of_birth = fields.Date(allow_none=True, data_key="dateOfBirth", validate=not_in_future)
    gender = fields.String(allow_none=True, validate=validate.OneOf(PANEL_GENDERS + GENDERS))
    blood_group = fields.String(allow_none=True, data_key="bloodGroup", validate=validate.OneOf(BLOOD_GROUPS))
    emergency_contact_name = TrimmedString(allow_none=True, data_key="emergencyContactName",
                                           validate=validate.Length(max=150))
    emergency_contact_phone = Phone(allow_none=True, data_key="emergencyContactPhone")
    notes = TrimmedString(allow_none=True, validate=validate.Length(max=5000))
    mrn = TrimmedString(allow_none=True, validate=validate.Length(min=1, max=50))

    @post_load
    def domain_names(self, data, **kwargs):
        """The spec's names: an upper-case gender, the emergency contact as one object."""
        if data.get("gender") is not None:
            data["gender"] = data["gender"].upper()
        contact = {key: data.pop(f"emergency_contact_{key}") for key in ("name", "phone")
                   if f"emergency_contact_{key}" in data}
        if contact:
            data["emergency_contact"] = contact
        return data


class CreatePanelPatientSchema(PanelPatientFieldsSchema):
    full_name = TrimmedString(required=True, data_key="fullName", validate=validate.Length(min=1, max=150))
    phone = Phone(required=True)
    centre_id = PanelId(data_key="centreId")


class NextAppointmentSchema(PanelSchema):
    id = AnsweredId()
    scheduled_start_at = fields.String(data_key="scheduledStartAt", metadata={"format": "date-time"})
    centre_id = AnsweredId(data_key="centreId")
    centre_name = fields.String(allow_none=True, data_key="centreName")
    clinician_id = AnsweredId(data_key="clinicianId")
    status = fields.String()


class PanelPatientSchema(PanelSchema):
    id = AnsweredId()
    user_id = AnsweredId(data_key="userId")
    full_name = fields.String(data_key="fullName")
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    username = fields.Constant(None, metadata={"description": "Patients sign in with an OTP: no username"})
    date_of_birth = fields.Date(allow_none=True, data_key="dateOfBirth")
    gender = fields.Function(lambda row: row["gender"] and row["gender"].lower(),
                             metadata={"type": "string", "nullable": True})
    blood_group = fields.String(allow_none=True, data_key="bloodGroup")
    emergency_contact_name = same_as("emergency_contact_name", data_key="emergencyContactName")
    emergency_contact_phone = same_as("emergency_contact_phone", data_key="emergencyContactPhone")
    notes = fields.String(allow_none=True)
    mrn = fields.String(allow_none=True)
    registered_centre_id = AnsweredId(allow_none=True, data_key="registeredCentreId")
    upcoming_appointments_count = fields.Integer(data_key="upcomingAppointmentsCount")
    past_appointments_count = fields.Integer(data_key="pastAppointmentsCount")
    upcoming_appointments = fields.List(fields.Nested(NextAppointmentSchema), data_key="upcomingAppointments",
                                        metadata={"description": "The next appointment, if any"})
    is_active = fields.Boolean(data_key="isActive")
    created_at = fields.DateTime(data_key="createdAt")
    updated_at = fields.DateTime(data_key="updatedAt")
