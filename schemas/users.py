"""Request and response shapes of /api/users (staff accounts; never a password hash)."""

from marshmallow import fields, validate

from schemas.base import CamelSchema, PageQuerySchema, Password, Phone, TrimmedString

USERNAME = validate.Regexp(
    r"^[A-Za-z0-9._-]{3,50}$", error="3-50 letters, digits, dots, dashes or underscores."
)


class StaffFieldsSchema(CamelSchema):
    name = TrimmedString(validate=validate.Length(min=1, max=150))
    phone = Phone()
    email = fields.Email(allow_none=True, validate=validate.Length(max=255))
    username = fields.String(allow_none=True, validate=USERNAME)
    password = Password()
    # A role name from the roles table; checked against the table, not a list in code.
    role = fields.String(validate=validate.Length(min=1, max=50))
    centre_ids = fields.List(fields.Integer(validate=validate.Range(min=1)), validate=validate.Length(max=50))
    designation = TrimmedString(allow_none=True, validate=validate.Length(max=150))
    department = TrimmedString(allow_none=True, validate=validate.Length(max=150))


class CreateStaffSchema(StaffFieldsSchema):
    name = TrimmedString(required=True, validate=validate.Length(min=1, max=150))
    phone = Phone(required=True)
    role = fields.String(required=True, validate=validate.Length(min=1, max=50))
    centre_ids = fields.List(
        fields.Integer(validate=validate.Range(min=1)), load_default=list, validate=validate.Length(max=50)
    )


class UpdateStaffSchema(StaffFieldsSchema):
    is_active = fields.Boolean()


class StaffQuerySchema(PageQuerySchema):
    role = fields.String(validate=validate.Length(min=1, max=50))
    centre_id = fields.Integer(validate=validate.Range(min=1))
    search = TrimmedString(validate=validate.Length(min=1, max=100))
    is_active = fields.Boolean()


class StaffUserSchema(CamelSchema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    username = fields.String(allow_none=True)
    role = fields.String(allow_none=True, metadata={"description": "The highest role held"})
    roles = fields.List(fields.String())
    centre_ids = fields.List(fields.Integer())
    clinician_id = fields.Integer(allow_none=True)
    avatar = fields.String(allow_none=True)
    designation = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    is_active = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
