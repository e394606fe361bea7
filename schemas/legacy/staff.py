"""The panel's staff pages: lists by the original backend's role ids, creation at one path per role
({full_name, phone, email, username, password[, centreId]}), updates with full_name and centre_ids,
and rows read as {id, full_name, phone, email, username, designation, centreId, centreName, isActive,
createdAt}."""

from marshmallow import fields, validate

from schemas.base import Password, Phone, TrimmedString
from schemas.legacy.base import AnsweredId, AnsweredIds, PanelId, PanelSchema, same_as
from schemas.users import USERNAME

# The original backend's roles table, whose ids the panel sends (?roleId=2 for the managers' page).
ROLE_IDS = {1: "ADMIN", 2: "MANAGER", 3: "CENTRE_MANAGER", 4: "CLINICIAN", 5: "CARE_COORDINATOR", 6: "FRONT_DESK"}

NAME = validate.Length(min=1, max=150)


class PanelStaffQuerySchema(PanelSchema):
    role_id = fields.Integer(data_key="roleId", validate=validate.OneOf(sorted(ROLE_IDS)))
    centre_id = PanelId(data_key="centreId")
    search = TrimmedString(validate=validate.Length(min=1, max=100))
    is_active = fields.Boolean(data_key="isActive")


class CreatePanelStaffSchema(PanelSchema):
    full_name = TrimmedString(required=True, validate=NAME)
    phone = Phone(required=True)
    email = fields.Email(allow_none=True, validate=validate.Length(max=255))
    username = fields.String(required=True, validate=USERNAME)
    password = Password(required=True)
    centre_id = PanelId(data_key="centreId")
    designation = TrimmedString(allow_none=True, validate=validate.Length(max=150))


class UpdatePanelStaffSchema(PanelSchema):
    full_name = TrimmedString(validate=NAME)
    phone = Phone()
    email = fields.Email(allow_none=True, validate=validate.Length(max=255))
    username = fields.String(allow_none=True, validate=USERNAME)
    password = Password()
    centre_ids = fields.List(PanelId(), validate=validate.Length(max=50))
    designation = TrimmedString(allow_none=True, validate=validate.Length(max=150))


class PanelStaffSchema(PanelSchema):
    id = AnsweredId()
    full_name = same_as("name")
    name = fields.String()
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    username = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    roles = fields.List(fields.String())
    designation = fields.String(allow_none=True)
    centre_id = AnsweredId(allow_none=True, data_key="centreId",
                               metadata={"description": "The first centre the user is assigned to"})
    centre_name = fields.String(allow_none=True, data_key="centreName")
    centre_ids = AnsweredIds(data_key="centreIds")
    clinician_id = AnsweredId(allow_none=True, data_key="clinicianId")
    is_active = fields.Boolean(data_key="isActive")
    created_at = fields.DateTime(data_key="createdAt")
    created_at_snake = fields.Function(lambda row: row["created_at"].isoformat(), data_key="created_at")
    updated_at = fields.DateTime(data_key="updatedAt")
