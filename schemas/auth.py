"""Request and response shapes of /api/auth/*."""

from marshmallow import fields, validate

from schemas.base import CamelSchema, Password, Phone, TrimmedString

OTP_PURPOSES = ("LOGIN", "SIGNUP", "PASSWORD_RESET")


class SendOtpSchema(CamelSchema):
    phone = Phone(required=True)
    purpose = fields.String(load_default="LOGIN", validate=validate.OneOf(OTP_PURPOSES))


class PhoneOtpLoginSchema(CamelSchema):
    phone = Phone(required=True)
    otp = fields.String(required=True, validate=validate.Regexp(r"^\d{6}$", error="Must be 6 digits."))


class PhonePasswordLoginSchema(CamelSchema):
    phone = Phone(required=True)
    password = Password(required=True)


class UsernamePasswordLoginSchema(CamelSchema):
    username = TrimmedString(required=True, validate=validate.Length(min=1, max=50))
    password = Password(required=True)


class RefreshSchema(CamelSchema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=2048))


class LogoutSchema(CamelSchema):
    refresh_token = fields.String(validate=validate.Length(min=1, max=2048))


class AuthUserSchema(CamelSchema):
    """AuthResponse.user of the spec (ids as strings, as the spec's interface has them)."""

    id = fields.String()
    name = fields.String()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    username = fields.String(allow_none=True)
    role = fields.String()
    roles = fields.List(fields.String())
    avatar = fields.String(allow_none=True)
    centre_ids = fields.List(fields.String())
    clinician_id = fields.String(allow_none=True)
    is_active = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class AuthResponseSchema(CamelSchema):
    user = fields.Nested(AuthUserSchema)
    access_token = fields.String()
    refresh_token = fields.String()


class OtpSentSchema(CamelSchema):
    """The same answer for any phone, so that send-otp cannot tell which numbers are staff."""

    message = fields.String()
    expires_in_minutes = fields.Integer()


class TokenPairSchema(CamelSchema):
    access_token = fields.String()
    refresh_token = fields.String()


class MessageSchema(CamelSchema):
    message = fields.String()


class OtpInvalidDetailsSchema(CamelSchema):
    remaining_attempts = fields.Integer()
