"""Request and response shapes of /api/patient-auth/* (the patient website's sign-in).

The website sends the sign-up fields of verify-otp in snake_case and reads the answers in
camelCase; its genders are named differently from the records' (WebsiteGender translates).
"""

from marshmallow import ValidationError, fields, validate

from schemas.base import CamelSchema, Password, Phone, SnakeSchema, TrimmedString

# The website's names for the genders the records keep (schemas.patients.GENDERS).
WEBSITE_GENDERS = {"MALE": "MALE", "FEMALE": "FEMALE", "NON_BINARY": "OTHER", "PREFER_NOT_TO_SAY": "UNDISCLOSED"}
RECORD_GENDERS = {stored: shown for shown, stored in WEBSITE_GENDERS.items()}

OTP_CODE = validate.Regexp(r"^\d{6}$", error="Must be 6 digits.")


class WebsiteGender(fields.String):
    """MALE, FEMALE, NON_BINARY or PREFER_NOT_TO_SAY on the website; OTHER and UNDISCLOSED in the records."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if text not in WEBSITE_GENDERS:
            raise ValidationError(f"Must be one of: {', '.join(WEBSITE_GENDERS)}.")
        return WEBSITE_GENDERS[text]

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else RECORD_GENDERS.get(value, value)


class OptionalEmail(fields.Email):
    """An e-mail, or nothing: the website sends "" for a field left empty."""

    def deserialize(self, value, attr=None, data=None, **kwargs):
        return None if value == "" else super().deserialize(value, attr, data, **kwargs)


class PatientSendOtpSchema(CamelSchema):
    phone = Phone(required=True, metadata={"description": "91 and 10 digits, as the website sends it (or +91…, 0…)"})


class PatientOtpSentSchema(CamelSchema):
    phone = fields.String(metadata={"description": "The phone as stored: +91 and 10 digits"})
    expires_in = fields.Integer(metadata={"description": "Seconds the code stays valid"})
    is_new_user = fields.Boolean(metadata={"description": "No account has this phone yet: verify-otp signs it up"})


class PatientVerifyOtpSchema(SnakeSchema):
    phone = Phone(required=True)
    otp = fields.String(required=True, validate=OTP_CODE)
    first_name = TrimmedString(allow_none=True, validate=validate.Length(min=1, max=75),
                               metadata={"description": "Required for a new phone"})
    last_name = TrimmedString(allow_none=True, validate=validate.Length(max=74))
    email = OptionalEmail(allow_none=True, validate=validate.Length(max=255))
    age = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=130))
    gender = WebsiteGender(allow_none=True)


class PatientPasswordLoginSchema(CamelSchema):
    username = TrimmedString(required=True, validate=validate.Length(min=1, max=50))
    password = Password(required=True)


class WebsiteUserSchema(CamelSchema):
    id = fields.Integer()
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    full_name = fields.String()
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    user_type = fields.String()


class WebsitePatientSchema(CamelSchema):
    id = fields.Integer(attribute="patient_id")
    date_of_birth = fields.Date(allow_none=True)
    age = fields.Integer(allow_none=True)
    gender = WebsiteGender(allow_none=True)
    blood_group = fields.String(allow_none=True)


class PatientAccountSchema(CamelSchema):
    user = fields.Nested(WebsiteUserSchema)
    patient = fields.Nested(WebsitePatientSchema)


class PatientSessionSchema(PatientAccountSchema):
    access_token = fields.String()
    refresh_token = fields.String()
    is_new_user = fields.Boolean()
    requires_profile_completion = fields.Boolean()


class PatientTokensSchema(CamelSchema):
    access_token = fields.String()
    refresh_token = fields.String(metadata={"description": "Its successor; the one sent keeps working too"})
