"""Request and response shapes of /api/payments/*."""

from __future__ import annotations

from marshmallow import fields, validate

from schemas.base import CamelSchema, TrimmedString

_ID = validate.Range(min=1, max=2**63 - 1)
# Razorpay ids are short ASCII tokens ("order_Kx1...", "pay_..."); signatures are hex HMACs.
_RAZORPAY_ID = validate.Regexp(r"^[A-Za-z0-9_]{1,100}$", error="Must be a Razorpay id.")
_SIGNATURE = validate.Regexp(r"^[0-9a-fA-F]{64}$", error="Must be a 64-character hex signature.")

DESK_METHODS = ("CASH", "CARD", "UPI")


class AppointmentPaymentSchema(CamelSchema):
    """create-order and payment-link: the appointment to be paid for."""

    appointment_id = fields.Integer(required=True, strict=True, validate=_ID)


class VerifyPaymentSchema(CamelSchema):
    """What Razorpay Checkout hands the browser after a payment."""

    razorpay_order_id = fields.String(required=True, validate=_RAZORPAY_ID)
    razorpay_payment_id = fields.String(required=True, validate=_RAZORPAY_ID)
    razorpay_signature = fields.String(required=True, validate=_SIGNATURE)
    appointment_id = fields.Integer(strict=True, validate=_ID,
                                    metadata={"description": "The appointment paid for (the website sends it)"})


class DeskPaymentSchema(CamelSchema):
    appointment_id = fields.Integer(required=True, strict=True, validate=_ID)
    method = fields.String(required=True, validate=validate.OneOf(DESK_METHODS))
    amount = fields.Decimal(
        places=2, allow_nan=False, validate=validate.Range(min=0, max=99_999_999),
        metadata={"description": "What is due (the clinician's fee, the default); less only with a waiverReason,"
                                 " by ADMIN, MANAGER or CENTRE_MANAGER"},
    )
    waiver_reason = TrimmedString(validate=validate.Length(min=1, max=500),
                                  metadata={"description": "Why the rest of what is due is waived"})
    note = TrimmedString(load_default=None, allow_none=True, validate=validate.Length(max=1000))
    reference = TrimmedString(load_default=None, allow_none=True, validate=validate.Length(max=100))


class OrderSchema(CamelSchema):
    """What the browser needs to open Razorpay Checkout."""

    order_id = fields.String()
    amount = fields.Integer(metadata={"description": "In paise, as Razorpay Checkout wants it."})
    currency = fields.String()
    key_id = fields.String()
    razorpay_key_id = fields.String(metadata={"description": "The same as keyId (the patient website reads this)"})
    payment_id = fields.Integer(metadata={"description": "Our payments row."})
    registration_fee = fields.Float(metadata={"description": "Rupees of the amount that are the one-time "
                                                             "registration fee (website checkouts only)"})


class VerifyResultSchema(CamelSchema):
    payment_id = fields.Integer()
    status = fields.String()


class WebhookResultSchema(CamelSchema):
    received = fields.Boolean()
    duplicate = fields.Boolean()


REFUND_STATUSES = ("REQUESTED", "PROCESSING", "PROCESSED", "FAILED")


class RefundRequestSchema(CamelSchema):
    amount = fields.Decimal(
        places=2, allow_nan=False, validate=validate.Range(min=1, max=99_999_999),
        metadata={"description": "Rupees to refund; all that is left of the payment when absent"},
    )
    reason = TrimmedString(required=True, validate=validate.Length(min=1, max=500))


class RefundSchema(CamelSchema):
    id = fields.Integer()
    payment_id = fields.Integer()
    amount = fields.Float(metadata={"description": "In rupees"})
    currency = fields.String()
    reason = fields.String()
    requested_by_user_id = fields.Integer(allow_none=True)
    requested_by_surface = fields.String()
    status = fields.String(validate=validate.OneOf(REFUND_STATUSES))
    razorpay_refund_id = fields.String(allow_none=True)
    attempts = fields.Integer(metadata={"description": "Calls made to Razorpay for it"})
    last_error = fields.String(allow_none=True, metadata={"description": "What the last failed call ran into"})
    failure_reason = fields.String(allow_none=True, metadata={"description": "Why it FAILED (Razorpay's reason)"})
    created_at = fields.AwareDateTime()
    processing_at = fields.AwareDateTime(allow_none=True)
    processed_at = fields.AwareDateTime(allow_none=True)
    failed_at = fields.AwareDateTime(allow_none=True)
    updated_at = fields.AwareDateTime()


class PaymentSchema(CamelSchema):
    id = fields.Integer()
    patient_id = fields.Integer()
    appointment_id = fields.Integer(allow_none=True)
    centre_id = fields.Integer(allow_none=True)
    provider = fields.String()
    channel = fields.String()
    order_id = fields.String(allow_none=True)
    payment_id = fields.String(allow_none=True, data_key="razorpayPaymentId")
    payment_link_id = fields.String(allow_none=True)
    payment_link_url = fields.String(allow_none=True)
    amount = fields.Float()
    currency = fields.String()
    status = fields.String()
    recorded_by_user_id = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)
    reference = fields.String(allow_none=True)
    failure_reason = fields.String(allow_none=True)
    flag_reason = fields.String(allow_none=True)
    waived_amount = fields.Float(allow_none=True)
    waiver_reason = fields.String(allow_none=True)
    registration_fee = fields.Float(metadata={"description": "The part of the amount that is the registration fee"})
    paid_at = fields.AwareDateTime(allow_none=True)
    expires_at = fields.AwareDateTime(allow_none=True)
    refund_status = fields.String(allow_none=True, validate=validate.OneOf(REFUND_STATUSES),
                                  metadata={"description": "Status of the payment's latest refund; null if none"})
    refunded_amount = fields.Float(metadata={"description": "Rupees refunded and PROCESSED"})
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
