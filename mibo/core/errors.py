"""The one error family of the API, and the one place database errors become API errors."""

from __future__ import annotations

from typing import Any

import psycopg2
from psycopg2 import errorcodes


class ApiError(Exception):
    """An error with an HTTP status, a stable machine code, and optional details for the client."""

    def __init__(self, status: int, code: str, message: str, details: Any = None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    @classmethod
    def bad_request(cls, message: str, details: Any = None, code: str = "BAD_REQUEST") -> ApiError:
        return cls(400, code, message, details)

    @classmethod
    def validation(cls, fields: dict[str, Any], message: str = "Invalid input") -> ApiError:
        return cls(400, "VALIDATION_ERROR", message, fields)

    @classmethod
    def unauthorized(cls, message: str = "Authentication required", code: str = "UNAUTHORIZED") -> ApiError:
        return cls(401, code, message)

    @classmethod
    def forbidden(cls, message: str = "You do not have permission to do this", code: str = "FORBIDDEN"):
        return cls(403, code, message)

    @classmethod
    def not_found(cls, resource: str, field: str | None = None) -> ApiError:
        """404 with the resource's own code (APPOINTMENT_NOT_FOUND, ...), the same on every route;
        `field` names the request field that pointed at it."""
        return cls(404, f"{resource.upper().replace(' ', '_')}_NOT_FOUND", f"No {resource.lower()} with this id",
                   {field: ["not found"]} if field else None)

    @classmethod
    def conflict(cls, message: str, details: Any = None, code: str = "CONFLICT") -> ApiError:
        return cls(409, code, message, details)

    @classmethod
    def unprocessable(cls, message: str, details: Any = None, code: str = "UNPROCESSABLE") -> ApiError:
        return cls(422, code, message, details)

    @classmethod
    def too_many(cls, retry_after: int, message: str = "Too many requests, try again later") -> ApiError:
        return cls(429, "RATE_LIMITED", message, {"retryAfter": retry_after}, {"Retry-After": str(retry_after)})

    @classmethod
    def unavailable(cls, message: str, code: str = "SERVICE_UNAVAILABLE") -> ApiError:
        return cls(503, code, message)

    @classmethod
    def internal(cls, message: str = "An unexpected error occurred") -> ApiError:
        return cls(500, "INTERNAL_ERROR", message)


# Constraint name -> the API field it guards, so a 409/400 names what the client sent wrong.
# Migrations name their constraints explicitly so this table stays true.
CONSTRAINT_FIELDS: dict[str, str] = {
    "users_phone_key": "phone",
    "users_email_key": "email",
    "users_username_key": "username",
    "clinician_profiles_user_id_key": "userId",
    "clinician_profiles_registration_number_key": "registrationNumber",
    "patient_profiles_user_id_key": "userId",
    "appointments_no_clinician_overlap": "scheduledStartAt",
    "appointments_no_patient_overlap": "scheduledStartAt",
    "clinician_blocks_no_overlap": "startAt",
    "payments_order_id_key": "orderId",
    "payments_payment_id_key": "paymentId",
    "payments_open_attempt_key": "appointmentId",  # one open order / payment link per appointment
    "availability_rules_no_overlap": "rules",
    "patient_profiles_registered_centre_fkey": "centreId",
    "keep_an_active_admin": "isActive",  # the database's own guard of the last administrator
    "patient_profiles_age_check": "age",
    "refunds_within_payment": "amount",
    "refunds_of_captured_payment": "paymentId",
}

# Guards (triggers) whose refusal is a conflict with what is already stored, not a bad value.
CHECK_CONFLICTS = {
    "refunds_within_payment": ("REFUND_EXCEEDS_PAYMENT", "The refunds would add up to more than the payment"),
    "refunds_of_captured_payment": ("PAYMENT_NOT_CAPTURED", "Only a captured payment can be refunded"),
}

# Exclusion constraints on appointments have their own error codes: a taken slot is the
# everyday conflict at a front desk, so it deserves a code the panel can react to.
EXCLUSION_CODES = {
    "appointments_no_clinician_overlap": ("SLOT_UNAVAILABLE", "The clinician already has an appointment then"),
    "appointments_no_patient_overlap": ("PATIENT_BUSY", "The patient already has an appointment then"),
    "clinician_blocks_no_overlap": ("BLOCK_OVERLAP", "The clinician already has a block then"),
}


def from_db_error(exc: psycopg2.Error) -> ApiError | None:
    """Map an integrity or data error to an ApiError; None for errors that are our bug (→ 500)."""
    code = exc.pgcode
    constraint = getattr(exc.diag, "constraint_name", None) or ""
    field = CONSTRAINT_FIELDS.get(constraint)
    if code == errorcodes.UNIQUE_VIOLATION:
        name = field or constraint
        return ApiError.conflict(
            f"A record with this {name} already exists" if field else "This record already exists",
            {field: ["already exists"]} if field else {"constraint": constraint},
            code="DUPLICATE",
        )
    if code == errorcodes.EXCLUSION_VIOLATION:
        err_code, message = EXCLUSION_CODES.get(constraint, ("CONFLICT", "Conflicts with an existing record"))
        return ApiError.conflict(message, {field or "constraint": [message]}, code=err_code)
    if code == errorcodes.FOREIGN_KEY_VIOLATION:
        return ApiError.bad_request(
            "A referenced record does not exist",
            {field or "constraint": [constraint or "reference not found"]},
            code="REFERENCE_NOT_FOUND",
        )
    if code == errorcodes.CHECK_VIOLATION and constraint in CHECK_CONFLICTS:
        err_code, message = CHECK_CONFLICTS[constraint]
        return ApiError.conflict(message, {field: [message]}, code=err_code)
    if code == errorcodes.CHECK_VIOLATION:
        return ApiError.bad_request(
            "A value is outside what is allowed",
            {field or "constraint": [constraint]},
            code="VALIDATION_ERROR",
        )
    if code == errorcodes.NOT_NULL_VIOLATION:
        column = getattr(exc.diag, "column_name", None) or "field"
        return ApiError.bad_request("A required value is missing", {column: ["is required"]}, "VALIDATION_ERROR")
    if isinstance(exc, psycopg2.DataError):
        # SQLSTATE class 22: a value PostgreSQL cannot hold (out of range, too long, bad format, time
        # zone offset...). The schemas bound what they can, so this is the backstop for the rest.
        return ApiError.bad_request("A value has the wrong format or size", None, "VALIDATION_ERROR")
    return None
