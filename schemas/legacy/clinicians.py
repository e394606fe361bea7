"""The panel's clinicians: created with snake_case login and profile fields in one body, updated with
camelCase ones, read camelCase (fullName, primaryCentreName, consultationModes, ...) with lists for
specialization, qualification, expertise and languages; availability rules read snake_case, days
numbered from Sunday (0) as JavaScript's getDay() does, where the spec numbers them from Monday.

Loading gives the domain's names (mibo.domain.clinicians): `attribute=` on each field, days and the
specialization list converted after loading."""

from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from schemas.base import Password, Phone, TrimmedString
from schemas.clinicians import CONSULTATION_MODES, HH_MM
from schemas.legacy.base import AnsweredId, AnsweredIds, PanelId, PanelInteger, PanelSchema, same_as
from schemas.users import USERNAME

CLINICIAN_ROLE_ID = 4  # the original backend's id of CLINICIAN, which the panel sends in role_ids
OFFERED_MODES = ("IN_PERSON", "ONLINE")
MAX_RULES = 300  # the panel saves one rule per slot: a full week of 30-minute slots fits


def from_sunday(day: int) -> int:
    """The panel's weekday (0 = Sunday) as the spec's (0 = Monday)."""
    return (day + 6) % 7


def to_sunday(day: int) -> int:
    return (day + 1) % 7


class WordList(fields.List):
    """A list of short texts; a single text is taken as a list of one."""

    def __init__(self, **kwargs):
        super().__init__(TrimmedString(validate=validate.Length(min=1, max=150)),
                         validate=validate.Length(max=30), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize([value] if isinstance(value, str) else value, attr, data, **kwargs)


def joined_specialization(data: dict) -> dict:
    """The spec keeps one specialization text: the panel's list, comma separated."""
    if "specialization" in data:
        text = ", ".join(data["specialization"])
        if not 1 <= len(text) <= 150:
            raise ValidationError({"specialization": ["Give 1 to 150 characters in all."]})
        data["specialization"] = text
    return data


def fee(**kwargs) -> fields.Decimal:
    return fields.Decimal(places=2, as_string=False, validate=validate.Range(min=0, max=99999999), **kwargs)


def picture_url(**kwargs) -> fields.Url:
    return fields.Url(schemes={"http", "https"}, require_tld=False, allow_none=True,
                      validate=validate.Length(max=1000), attribute="profile_picture_url", **kwargs)


class PanelClinicianQuerySchema(PanelSchema):
    centre_id = PanelId(data_key="centreId")
    specialization = TrimmedString(validate=validate.Length(min=1, max=150))
    search = TrimmedString(validate=validate.Length(min=1, max=100))
    is_active = fields.Boolean(data_key="isActive")


class PanelSlotSchema(PanelSchema):
    """An availability slot as the panel's create form sends it (its id is the panel's own key)."""

    id = fields.String(validate=validate.Length(max=100), load_only=True)
    day_of_week = PanelInteger(required=True, data_key="dayOfWeek", validate=validate.Range(min=0, max=6))
    start_time = fields.String(required=True, data_key="startTime", validate=HH_MM)
    end_time = fields.String(required=True, data_key="endTime", validate=HH_MM)
    consultation_mode = fields.String(data_key="consultationMode", validate=validate.OneOf(CONSULTATION_MODES))

    @post_load
    def as_rule(self, data, **kwargs):
        return {"day_of_week": from_sunday(data["day_of_week"]), "start_time": data["start_time"],
                "end_time": data["end_time"], "consultation_mode": data.get("consultation_mode", "ANY")}


class CreatePanelClinicianSchema(PanelSchema):
    user_id = PanelId(data_key="userId")
    full_name = TrimmedString(attribute="name", validate=validate.Length(min=1, max=150))
    phone = Phone()
    email = fields.Email(allow_none=True, validate=validate.Length(max=255))
    username = fields.String(allow_none=True, validate=USERNAME)
    password = Password()
    role_ids = fields.List(fields.Integer(validate=validate.Equal(CLINICIAN_ROLE_ID,
                                                                  error="Clinicians have the clinician role (4).")),
                           load_only=True)
    centre_ids = fields.List(PanelId(), load_only=True, validate=validate.Length(max=50))
    designation = TrimmedString(allow_none=True, validate=validate.Length(max=150))
    primary_centre_id = PanelId(required=True)
    specialization = WordList(required=True)
    registration_number = TrimmedString(allow_none=True, validate=validate.Length(min=1, max=100))
    years_of_experience = PanelInteger(validate=validate.Range(min=0, max=80))
    consultation_fee = fee()
    bio = TrimmedString(allow_none=True, validate=validate.Length(max=5000))
    consultation_modes = fields.List(fields.String(validate=validate.OneOf(OFFERED_MODES)),
                                     validate=validate.Length(min=1, max=2))
    default_consultation_duration_minutes = PanelInteger(attribute="default_duration",
                                                         validate=validate.Range(min=5, max=480))
    profile_picture_url = picture_url()
    qualification = WordList(attribute="qualifications")
    expertise = WordList()
    languages = WordList()
    availability_slots = fields.List(fields.Nested(PanelSlotSchema), validate=validate.Length(max=MAX_RULES))

    @validates_schema
    def user_or_details(self, data, **kwargs):
        if "user_id" not in data:
            missing = {key: ["Required when userId is not given."] for key, name in
                       (("full_name", "name"), ("phone", "phone")) if name not in data}
            if missing:
                raise ValidationError(missing)
        extra = set(data.get("centre_ids", ())) - {data.get("primary_centre_id")}
        if extra:
            raise ValidationError({"centre_ids": ["A new clinician works at their primary centre; add further"
                                                  " centres with PUT /users/{id}."]})

    @post_load
    def domain_names(self, data, **kwargs):
        data.pop("role_ids", None)
        data.pop("centre_ids", None)
        return joined_specialization(data)


class UpdatePanelClinicianSchema(PanelSchema):
    """The profile, and the login's phone and e-mail (changed only if they differ, under the login's rules)."""

    phone = Phone()
    email = fields.Email(allow_none=True, validate=validate.Length(max=255))
    primary_centre_id = PanelId(data_key="primaryCentreId")
    specialization = WordList()
    registration_number = TrimmedString(allow_none=True, data_key="registrationNumber",
                                        validate=validate.Length(min=1, max=100))
    years_of_experience = PanelInteger(data_key="yearsOfExperience", validate=validate.Range(min=0, max=80))
    consultation_fee = fee(data_key="consultationFee")
    bio = TrimmedString(allow_none=True, validate=validate.Length(max=5000))
    consultation_modes = fields.List(fields.String(validate=validate.OneOf(OFFERED_MODES)),
                                     data_key="consultationModes", validate=validate.Length(min=1, max=2))
    default_duration = PanelInteger(data_key="defaultDurationMinutes", validate=validate.Range(min=5, max=480))
    profile_picture_url = picture_url(data_key="profilePictureUrl")
    qualification = WordList(attribute="qualifications")
    expertise = WordList()
    languages = WordList()

    @post_load
    def domain_names(self, data, **kwargs):
        return joined_specialization(data)


class CredentialsSchema(PanelSchema):
    username = fields.String(validate=USERNAME)
    password = Password()

    @validates_schema
    def not_empty(self, data, **kwargs):
        if not data:
            raise ValidationError("Give a username, a password or both.", "_schema")


class PanelRuleInSchema(PanelSchema):
    """A rule as the panel sends it back: both spellings of the centre and the mode, days from Sunday."""

    centre_id = PanelId()
    centre_id_camel = PanelId(data_key="centreId", attribute="centre_id_camel")
    day_of_week = PanelInteger(required=True, data_key="dayOfWeek", validate=validate.Range(min=0, max=6))
    start_time = fields.String(required=True, data_key="startTime", validate=HH_MM)
    end_time = fields.String(required=True, data_key="endTime", validate=HH_MM)
    slot_duration_minutes = PanelInteger(data_key="slotDurationMinutes", validate=validate.Range(min=5, max=480))
    mode = fields.String(validate=validate.OneOf(CONSULTATION_MODES))
    consultation_mode = fields.String(data_key="consultationMode", validate=validate.OneOf(CONSULTATION_MODES))

    @validates_schema
    def one_meaning(self, data, **kwargs):
        for first, second in (("centre_id", "centre_id_camel"), ("mode", "consultation_mode")):
            if first in data and second in data and data[first] != data[second]:
                raise ValidationError(f"{first} and its other spelling disagree.", first)

    @post_load
    def as_rule(self, data, **kwargs):
        rule = {"day_of_week": from_sunday(data["day_of_week"]), "start_time": data["start_time"],
                "end_time": data["end_time"],
                "consultation_mode": data.get("mode") or data.get("consultation_mode") or "ANY"}
        centre = data.get("centre_id") or data.get("centre_id_camel")
        if centre is not None:
            rule["centre_id"] = centre
        if "slot_duration_minutes" in data:
            rule["slot_duration_minutes"] = data["slot_duration_minutes"]
        return rule


class PanelAvailabilitySchema(PanelSchema):
    availability_rules = fields.List(fields.Nested(PanelRuleInSchema), required=True,
                                     validate=validate.Length(max=MAX_RULES))


class ByDayQuerySchema(PanelSchema):
    centre_id = PanelId(data_key="centreId")


class DeleteByDaySchema(PanelSchema):
    day_of_week = PanelInteger(required=True, data_key="dayOfWeek", validate=validate.Range(min=0, max=6),
                               metadata={"description": "0 = Sunday … 6 = Saturday"})
    centre_id = PanelId(data_key="centreId")


class DeletedRulesSchema(PanelSchema):
    deleted_count = fields.Integer(data_key="deletedCount")


class PanelRuleSchema(PanelSchema):
    id = AnsweredId()
    centre_id = AnsweredId()
    day_of_week = fields.Function(lambda rule: to_sunday(rule["day_of_week"]),
                                  metadata={"description": "0 = Sunday … 6 = Saturday"})
    start_time = fields.String()
    end_time = fields.String()
    slot_duration_minutes = fields.Integer()
    consultation_mode = fields.String()
    mode = same_as("consultation_mode")
    is_active = fields.Boolean()


# A clinician's rules grouped by weekday: {"0": [rule, ...], ..., "6": [...]}, a day without rules absent.
RULES_BY_DAY = {
    "type": "object",
    "properties": {str(day): {"type": "array", "items": PanelRuleSchema} for day in range(7)},
    "additionalProperties": False,
}


def words(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


class PanelClinicianSchema(PanelSchema):
    id = AnsweredId()
    user_id = AnsweredId(data_key="userId")
    full_name = same_as("name", data_key="fullName")
    name = fields.String()
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    specialization = fields.Function(lambda row: words(row["specialization"]))
    registration_number = fields.String(allow_none=True, data_key="registrationNumber")
    years_of_experience = fields.Integer(data_key="yearsOfExperience")
    consultation_fee = fields.Float(data_key="consultationFee")
    default_duration = fields.Integer(data_key="defaultDurationMinutes")
    primary_centre_id = AnsweredId(attribute="primary_centre.id", data_key="primaryCentreId")
    primary_centre_name = fields.String(attribute="primary_centre.name", data_key="primaryCentreName")
    centre_ids = AnsweredIds(data_key="centreIds")
    bio = fields.String(allow_none=True)
    consultation_modes = fields.List(fields.String(), data_key="consultationModes")
    profile_picture_url = fields.String(allow_none=True, data_key="profilePictureUrl")
    designation = fields.String(allow_none=True)
    qualification = fields.List(fields.String(), attribute="qualifications")
    expertise = fields.List(fields.String())
    languages = fields.List(fields.String())
    is_active = fields.Boolean(data_key="isActive")
    created_at = fields.DateTime(data_key="createdAt")
    updated_at = fields.DateTime(data_key="updatedAt")


class PanelClinicianDetailSchema(PanelClinicianSchema):
    availability_rules = fields.List(fields.Nested(PanelRuleSchema), data_key="availabilityRules")
