"""Request and response shapes of /api/clinicians (the spec's ClinicianDetail, with scheduling settings)."""

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.base import CamelSchema, PageQuerySchema, Password, Phone, TrimmedString
from schemas.users import USERNAME

CONSULTATION_MODES = ("ANY", "IN_PERSON", "ONLINE")
HH_MM = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="Must be a time as HH:MM (00:00-23:59).")


class ClinicianFieldsSchema(CamelSchema):
    """Profile fields and the scheduling settings (Cal.com / Easy!Appointments style)."""

    primary_centre_id = fields.Integer(validate=validate.Range(min=1))
    specialization = TrimmedString(validate=validate.Length(min=1, max=150))
    registration_number = TrimmedString(allow_none=True, validate=validate.Length(min=1, max=100))
    years_of_experience = fields.Integer(validate=validate.Range(min=0, max=80))
    consultation_fee = fields.Decimal(places=2, as_string=False, validate=validate.Range(min=0, max=99999999))
    default_duration = fields.Integer(validate=validate.Range(min=5, max=480))
    buffer_before_minutes = fields.Integer(validate=validate.Range(min=0, max=240))
    buffer_after_minutes = fields.Integer(validate=validate.Range(min=0, max=240))
    min_notice_minutes = fields.Integer(validate=validate.Range(min=0, max=43200))
    booking_horizon_days = fields.Integer(validate=validate.Range(min=1, max=730))
    max_daily_appointments = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=200))


class CreateClinicianSchema(ClinicianFieldsSchema):
    """Either `userId` of an existing staff member, or the new user's name and phone."""

    user_id = fields.Integer(validate=validate.Range(min=1))
    name = TrimmedString(validate=validate.Length(min=1, max=150))
    phone = Phone()
    email = fields.Email(allow_none=True, validate=validate.Length(max=255))
    username = fields.String(allow_none=True, validate=USERNAME)
    password = Password()
    primary_centre_id = fields.Integer(required=True, validate=validate.Range(min=1))
    specialization = TrimmedString(required=True, validate=validate.Length(min=1, max=150))

    @validates_schema
    def user_or_details(self, data, **kwargs):
        new_user = [name for name in ("name", "phone", "email", "username", "password") if name in data]
        if "user_id" in data and new_user:
            raise ValidationError("Give either userId or the new user's details, not both.", "userId")
        if "user_id" not in data:
            missing = {
                name: ["Required when userId is not given."] for name in ("name", "phone") if name not in data
            }
            if missing:
                raise ValidationError(missing)


class UpdateClinicianSchema(ClinicianFieldsSchema):
    """The profile only: the login's name, phone and e-mail change through /api/users."""


class ClinicianQuerySchema(PageQuerySchema):
    centre_id = fields.Integer(validate=validate.Range(min=1))
    specialization = TrimmedString(validate=validate.Length(min=1, max=150))
    search = TrimmedString(validate=validate.Length(min=1, max=100))
    is_active = fields.Boolean()


class AvailabilityRuleInSchema(CamelSchema):
    day_of_week = fields.Integer(
        required=True,
        validate=validate.Range(min=0, max=6),
        metadata={"description": "0 = Monday … 6 = Sunday"},
    )
    start_time = fields.String(required=True, validate=HH_MM)
    end_time = fields.String(required=True, validate=HH_MM)
    slot_duration_minutes = fields.Integer(
        validate=validate.Range(min=5, max=480),
        metadata={"description": "Defaults to the clinician's defaultDuration"},
    )
    centre_id = fields.Integer(
        validate=validate.Range(min=1), metadata={"description": "Defaults to the clinician's primary centre"}
    )
    consultation_mode = fields.String(load_default="ANY", validate=validate.OneOf(CONSULTATION_MODES))


class ReplaceAvailabilitySchema(CamelSchema):
    rules = fields.List(
        fields.Nested(AvailabilityRuleInSchema), required=True, validate=validate.Length(max=100)
    )


class AvailabilityRuleSchema(CamelSchema):
    id = fields.Integer()
    day_of_week = fields.Integer()
    start_time = fields.String()
    end_time = fields.String()
    slot_duration_minutes = fields.Integer()
    centre_id = fields.Integer()
    consultation_mode = fields.String()
    is_active = fields.Boolean()


class CentreRefSchema(CamelSchema):
    id = fields.Integer()
    name = fields.String()
    city = fields.String()


class ClinicianSchema(CamelSchema):
    id = fields.Integer()
    user_id = fields.Integer()
    name = fields.String()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    specialization = fields.String()
    registration_number = fields.String(allow_none=True)
    years_of_experience = fields.Integer()
    consultation_fee = fields.Float()
    default_duration = fields.Integer()
    buffer_before_minutes = fields.Integer()
    buffer_after_minutes = fields.Integer()
    min_notice_minutes = fields.Integer()
    booking_horizon_days = fields.Integer()
    max_daily_appointments = fields.Integer(allow_none=True)
    primary_centre = fields.Nested(CentreRefSchema)
    centre_ids = fields.List(
        fields.Integer(), metadata={"description": "Every centre the clinician works at"}
    )
    profile_picture_url = fields.String(allow_none=True)
    is_active = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ClinicianDetailSchema(ClinicianSchema):
    availability_rules = fields.List(fields.Nested(AvailabilityRuleSchema))
