"""Shapes of the patient website's own payment routes (registration fee, failed checkouts)."""

from marshmallow import fields, validate

from schemas.base import CamelSchema, TrimmedString

_RAZORPAY_ID = validate.Regexp(r"^[A-Za-z0-9_]{1,100}$", error="Must be a Razorpay id.")


class RegistrationFeeStatusSchema(CamelSchema):
    has_paid_registration_fee = fields.Boolean()
    registration_fee = fields.Float(metadata={"description": "Rupees the next booking's order adds for it (0: none)"})


class PaymentFailureSchema(CamelSchema):
    appointment_id = fields.Integer(required=True, validate=validate.Range(min=1))
    razorpay_order_id = fields.String(required=True, validate=_RAZORPAY_ID)
    error_code = TrimmedString(allow_none=True, validate=validate.Length(max=100))
    error_description = TrimmedString(allow_none=True, validate=validate.Length(max=500))


class PaymentFailureResultSchema(CamelSchema):
    appointment_id = fields.Integer()
    appointment_status = fields.String(metadata={"description": "CANCELLED once the slot was freed"})
