"""The panel's centres: the spec's Centre with the one-line `address` and `phone` it shows.
Its bodies are the spec's (CreateCentre, UpdateCentre); the toggle sends {isActive}."""

from marshmallow import fields

from schemas.legacy.base import AnsweredId, PanelSchema, same_as


class ToggleActiveSchema(PanelSchema):
    is_active = fields.Boolean(required=True, data_key="isActive")


class PanelCentreSchema(PanelSchema):
    id = AnsweredId()
    name = fields.String()
    city = fields.String()
    address = fields.Method("one_line_address")
    address_line1 = fields.String(allow_none=True, data_key="addressLine1")
    address_line2 = fields.String(allow_none=True, data_key="addressLine2")
    pincode = fields.String(allow_none=True)
    phone = same_as("contact_phone", metadata={"type": "string"})
    contact_phone = fields.String(allow_none=True, data_key="contactPhone")
    timezone = fields.String()
    is_active = fields.Boolean(data_key="isActive")
    created_at = fields.DateTime(data_key="createdAt")
    updated_at = fields.DateTime(data_key="updatedAt")

    def one_line_address(self, centre) -> str:
        """'line 1, line 2': the panel's edit form splits it back on the comma."""
        return ", ".join(part for part in (centre.get("address_line1"), centre.get("address_line2")) if part)
