"""Request and response shapes of /api/centres (the spec's Centre interface, plus its time zone)."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import ValidationError, fields, validate

from schemas.base import CamelSchema, ContactPhone, PageQuerySchema, TrimmedString

CITIES = ("bangalore", "kochi", "mumbai")


def validate_timezone(name: str) -> None:
    """An IANA zone name that zoneinfo knows ('Asia/Kolkata', 'Europe/London')."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("Must be an IANA time zone such as Asia/Kolkata.") from None


class CentreFieldsSchema(CamelSchema):
    name = TrimmedString(validate=validate.Length(min=1, max=150))
    city = fields.String(validate=validate.OneOf(CITIES))
    address_line1 = TrimmedString(validate=validate.Length(min=1, max=255))
    address_line2 = TrimmedString(allow_none=True, validate=validate.Length(max=255))
    pincode = fields.String(validate=validate.Regexp(r"^\d{6}$", error="Must be a 6-digit PIN code."))
    contact_phone = ContactPhone()
    timezone = fields.String(validate=[validate.Length(max=64), validate_timezone])


class CreateCentreSchema(CentreFieldsSchema):
    name = TrimmedString(required=True, validate=validate.Length(min=1, max=150))
    city = fields.String(required=True, validate=validate.OneOf(CITIES))
    address_line1 = TrimmedString(required=True, validate=validate.Length(min=1, max=255))
    pincode = fields.String(
        required=True, validate=validate.Regexp(r"^\d{6}$", error="Must be a 6-digit PIN code.")
    )
    contact_phone = ContactPhone(required=True)
    timezone = fields.String(
        validate=[validate.Length(max=64), validate_timezone],
        metadata={"description": "Defaults to the chain's time zone (CHAIN_TIMEZONE)"},
    )


class UpdateCentreSchema(CentreFieldsSchema):
    # false goes through the same checks as DELETE; only an ADMIN may change it.
    is_active = fields.Boolean()


class CentreQuerySchema(PageQuerySchema):
    city = fields.String(validate=validate.OneOf(CITIES))
    is_active = fields.Boolean()


class CentreSchema(CamelSchema):
    id = fields.Integer()
    name = fields.String()
    city = fields.String()
    address_line1 = fields.String(allow_none=True)
    address_line2 = fields.String(allow_none=True)
    pincode = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True)
    timezone = fields.String()
    is_active = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
