"""Building blocks shared by every schema: camelCase on the wire, Indian phones, passwords."""

from __future__ import annotations

import datetime as dt
import re

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate


def camelcase(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# What PostgreSQL and date arithmetic can hold, enforced on every field of every schema so that
# a value out of these bounds is a 400 naming its field, never an overflow (a 500) further down.
BIGINT = validate.Range(min=-(2**63), max=2**63 - 1, error="Must be between {min} and {max}.")
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)


MAX_OFFSET = dt.timedelta(hours=14)  # UTC-12:00 to UTC+14:00 are the offsets in use; PostgreSQL takes < 16 h


def sane_day(value: dt.date | dt.datetime) -> None:
    day = value.date() if isinstance(value, dt.datetime) else value
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValidationError(f"Must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}.")
    offset = value.utcoffset() if isinstance(value, dt.datetime) else None
    if offset is not None and abs(offset) > MAX_OFFSET:
        raise ValidationError("The UTC offset must be between -14:00 and +14:00.")


def bound(field_obj: fields.Field) -> None:
    """Add the checks a field's type needs. Integers are strict: 30.5, "30" and true are refused,
    never truncated or coerced (query strings are converted first: see from_query). A schema
    instance's fields share their validator list with the class's declared fields, so the list is
    replaced, never appended to in place (appending would add one more check per instance made)."""
    if isinstance(field_obj, fields.Integer):
        field_obj.strict = True
    check = (BIGINT if isinstance(field_obj, fields.Integer)
             else sane_day if isinstance(field_obj, fields.Date | fields.DateTime) else None)
    if check is not None and check not in field_obj.validators:
        field_obj.validators = [*field_obj.validators, check]
    elif isinstance(field_obj, fields.List):
        bound(field_obj.inner)


def text_problem(value) -> str | None:
    """Why a string (or a list of them) cannot be stored as text: PostgreSQL refuses NUL in text,
    and a lone surrogate ("\\ud800", legal in JSON) has no UTF-8 encoding."""
    if isinstance(value, str):
        if "\x00" in value:
            return "Must not contain NUL characters."
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                return "Must be valid Unicode text (no lone surrogates)."
        return None
    if isinstance(value, list):
        return next(filter(None, map(text_problem, value)), None)
    return None


# Past this many unknown fields the answer names the first few and stops: a body of thousands of
# junk keys costs no more than one with a few.
MAX_UNKNOWN_FIELDS = 10

_QUERY_INTEGER = re.compile(r"^[+-]?\d{1,30}$")


def from_query(schema: Schema, data: dict[str, str]) -> dict:
    """Query strings carry every value as text: integer fields get whole-number text converted to int
    (so "30" is 30 there), anything else ("30.5", "3e1") is left for the strict field to refuse."""
    integers = {f.data_key or name for name, f in schema.load_fields.items() if isinstance(f, fields.Integer)}
    return {key: int(value) if key in integers and _QUERY_INTEGER.match(value) else value
            for key, value in data.items()}


class CamelSchema(Schema):
    """Attributes are snake_case in Python and camelCase in JSON; unknown fields are refused.
    Integers are strict and fit a BIGINT, dates lie in 1900-2999 and every string can be stored
    as text (no NUL, no lone surrogate), so out-of-range input is a 400 naming the field."""

    class Meta:
        unknown = RAISE

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        field_obj.data_key = camelcase(field_obj.data_key or field_name)
        bound(field_obj)

    @pre_load
    def refuse_junk(self, data, **kwargs):
        # Nested objects are CamelSchemas too and check their own strings.
        if not isinstance(data, dict):
            return data
        known = self._known_keys()
        unknown = [key for key in data if key not in known]
        if len(unknown) > MAX_UNKNOWN_FIELDS:
            errors = {key: ["Unknown field."] for key in unknown[:MAX_UNKNOWN_FIELDS]}
            errors["_schema"] = [f"{len(unknown) - MAX_UNKNOWN_FIELDS} more unknown fields."]
            raise ValidationError(errors)
        errors = {key: [problem] for key, value in data.items() if (problem := text_problem(value))}
        if errors:
            raise ValidationError(errors)
        return data

    def _known_keys(self) -> frozenset[str]:
        return frozenset(f.data_key or name for name, f in self.load_fields.items())


class SnakeSchema(CamelSchema):
    """A CamelSchema whose JSON keys are the attribute names as written: for the patient website,
    which sends and reads some bodies in snake_case."""

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        field_obj.data_key = field_obj.data_key or field_name
        bound(field_obj)


_PHONE_DIGITS = re.compile(r"[\s()-]")


def national_digits(value: str) -> str:
    """The 10 national digits of an Indian number written with or without +91, 91 or 0."""
    digits = _PHONE_DIGITS.sub("", value or "")
    if digits.startswith("+91"):
        digits = digits[3:]
    elif digits.startswith("91") and len(digits) == 12:
        digits = digits[2:]
    elif digits.startswith("0") and len(digits) == 11:
        digits = digits[1:]
    return digits


def normalize_phone(value: str) -> str:
    """Canonical Indian mobile: '+91' and 10 digits starting 6-9. Accepts +91, 91 and 0 prefixes."""
    digits = national_digits(value)
    if not re.fullmatch(r"[6-9]\d{9}", digits):
        raise ValidationError("Must be an Indian mobile number: 10 digits, optionally with +91 or 0.")
    return "+91" + digits


def normalize_contact_phone(value: str) -> str:
    """Canonical Indian number, a centre's landline (STD code and number) or a mobile: '+91' and 10 digits."""
    digits = national_digits(value)
    if not re.fullmatch(r"[1-9]\d{9}", digits):
        raise ValidationError("Must be an Indian phone number: 10 digits with the STD code, optionally with +91 or 0.")
    return "+91" + digits


class Phone(fields.String):
    """An Indian mobile number, stored and returned as +91XXXXXXXXXX."""

    def _deserialize(self, value, attr, data, **kwargs):
        return normalize_phone(super()._deserialize(value, attr, data, **kwargs))


class ContactPhone(fields.String):
    """A centre's number, landline or mobile, stored and returned as +91XXXXXXXXXX."""

    def _deserialize(self, value, attr, data, **kwargs):
        return normalize_contact_phone(super()._deserialize(value, attr, data, **kwargs))


class Password(fields.String):
    """bcrypt reads at most 72 bytes; longer passwords are refused rather than silently cut."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text:
            raise ValidationError("Must not be empty.")
        if len(text.encode()) > 72:
            raise ValidationError("Must be at most 72 bytes.")
        return text


class TrimmedString(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


class PageQuerySchema(CamelSchema):
    """limit/offset pagination shared by every list endpoint (limit at most 100)."""

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
