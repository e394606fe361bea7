"""Request and response shapes of /api/patients (the spec's PatientDetail) and medical notes."""

import datetime as dt
import re

from marshmallow import ValidationError, fields, post_load, validate

from schemas.base import CamelSchema, PageQuerySchema, Phone, TrimmedString, normalize_phone

GENDERS = ("MALE", "FEMALE", "OTHER", "UNDISCLOSED")
BLOOD_GROUPS = ("A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-")


def not_in_future(value: dt.date) -> None:
    # The latest "today" anywhere is UTC+14; no server zone is involved.
    if value > (dt.datetime.now(dt.UTC) + dt.timedelta(hours=14)).date():
        raise ValidationError("Must not be in the future.")
    if value.year < 1900:
        raise ValidationError("Must be after 1900.")


class EmergencyContactSchema(CamelSchema):
    name = TrimmedString(allow_none=True, validate=validate.Length(max=150))
    phone = Phone(allow_none=True)


class PatientFieldsSchema(CamelSchema):
    full_name = TrimmedString(validate=validate.Length(min=1, max=150))
    phone = Phone()
    email = fields.Email(allow_none=True, validate=validate.Length(max=255))
    date_of_birth = fields.Date(allow_none=True, validate=not_in_future)
    gender = fields.String(allow_none=True, validate=validate.OneOf(GENDERS))
    blood_group = fields.String(allow_none=True, validate=validate.OneOf(BLOOD_GROUPS))
    emergency_contact = fields.Nested(EmergencyContactSchema, allow_none=True)


class CreatePatientSchema(PatientFieldsSchema):
    full_name = TrimmedString(required=True, validate=validate.Length(min=1, max=150))
    phone = Phone(required=True)
    centre_id = fields.Integer(
        validate=validate.Range(min=1, max=2**63 - 1),
        metadata={"description": "Where the patient registers; defaults to the caller's only centre"},
    )


class UpdatePatientSchema(PatientFieldsSchema):
    pass


_PHONE_DIGITS = re.compile(r"^\+?[\d\s-]{3,}$")


class PatientQuerySchema(PageQuerySchema):
    search = TrimmedString(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Part of a name, a phone in any accepted format, or digits of it"},
    )
    phone = Phone()

    @post_load
    def read_search(self, data, **kwargs):
        """Say what the search text is: a whole phone (search_phone), a run of digits, or a name."""
        search = data.get("search")
        if search is None:
            return data
        try:
            data["search_phone"] = normalize_phone(search)
        except ValidationError:
            if _PHONE_DIGITS.match(search):
                data["search_digits"] = re.sub(r"\D", "", search)
        return data


class PatientLookupQuerySchema(CamelSchema):
    phone = Phone(required=True, metadata={"description": "The patient's whole phone number"})


class PatientMatchSchema(CamelSchema):
    """A patient found by phone anywhere in the chain: enough to book them, nothing more."""

    id = fields.Integer()
    full_name = fields.String()


class PatientSchema(CamelSchema):
    id = fields.Integer()
    user_id = fields.Integer()
    full_name = fields.String()
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    date_of_birth = fields.Date(allow_none=True)
    gender = fields.String(allow_none=True)
    blood_group = fields.String(allow_none=True)
    emergency_contact = fields.Nested(EmergencyContactSchema)
    registered_centre_id = fields.Integer(allow_none=True)
    is_active = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class PatientAppointmentSchema(CamelSchema):
    id = fields.Integer()
    patient_id = fields.Integer()
    clinician_id = fields.Integer()
    clinician_name = fields.String()
    centre_id = fields.Integer()
    centre_name = fields.String()
    appointment_type = fields.String()
    scheduled_start_at = fields.DateTime()
    scheduled_end_at = fields.DateTime()
    duration_minutes = fields.Integer()
    status = fields.String()
    source = fields.String()
    parent_appointment_id = fields.Integer(allow_none=True)
    meet_link = fields.String(allow_none=True)
    created_at = fields.DateTime()


class PatientPaymentSchema(CamelSchema):
    id = fields.Integer()
    appointment_id = fields.Integer(allow_none=True)
    provider = fields.String()
    order_id = fields.String(allow_none=True)
    payment_id = fields.String(allow_none=True)
    amount = fields.Float()
    currency = fields.String()
    status = fields.String()
    paid_at = fields.DateTime(allow_none=True)
    refund_status = fields.String(allow_none=True,
                                  metadata={"description": "Status of the latest refund; null if none"})
    refunded_amount = fields.Float(metadata={"description": "Rupees refunded and PROCESSED"})
    created_at = fields.DateTime()


class MedicalNoteSchema(CamelSchema):
    id = fields.Integer()
    patient_id = fields.Integer()
    appointment_id = fields.Integer(allow_none=True)
    centre_id = fields.Integer(allow_none=True)
    author_user_id = fields.Integer()
    author_name = fields.String()
    note = fields.String()
    created_at = fields.DateTime()


class PatientDetailSchema(PatientSchema):
    appointments = fields.List(fields.Nested(PatientAppointmentSchema))
    payments = fields.List(fields.Nested(PatientPaymentSchema))
    medical_notes = fields.List(
        fields.Nested(MedicalNoteSchema),
        allow_none=True,
        metadata={"description": "null unless the caller may read clinical notes"},
    )


class CreateNoteSchema(CamelSchema):
    note = TrimmedString(required=True, validate=validate.Length(min=1, max=20000))
    appointment_id = fields.Integer(validate=validate.Range(min=1))
