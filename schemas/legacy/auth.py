"""The panel's sign-in answers: the spec's AuthResponse, whose user also carries the names the
panel reads (`full_name`, `assignedCentreId` for the desk's centre)."""

from marshmallow import fields

from schemas.legacy.base import AnsweredId, AnsweredIds, PanelSchema


class PanelUserSchema(PanelSchema):
    id = AnsweredId()
    name = fields.String()
    full_name = fields.String()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    username = fields.String(allow_none=True)
    role = fields.String()
    roles = fields.List(fields.String())
    avatar = fields.String(allow_none=True)
    centre_ids = AnsweredIds(data_key="centreIds")
    assigned_centre_id = AnsweredId(allow_none=True, data_key="assignedCentreId")
    clinician_id = AnsweredId(allow_none=True, data_key="clinicianId")
    is_active = fields.Boolean(data_key="isActive")
    user_type = fields.String(data_key="userType")
    created_at = fields.DateTime(data_key="createdAt")
    updated_at = fields.DateTime(data_key="updatedAt")


class PanelAuthSchema(PanelSchema):
    user = fields.Nested(PanelUserSchema)
    access_token = fields.String(data_key="accessToken")
    refresh_token = fields.String(data_key="refreshToken")


class PanelAccessTokenSchema(PanelSchema):
    """A refresh's answer. The panel keeps the refresh token it has; the successor is given all the same."""

    access_token = fields.String(data_key="accessToken")
    refresh_token = fields.String(data_key="refreshToken")


class PanelMessageSchema(PanelSchema):
    message = fields.String()
