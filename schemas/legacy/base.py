"""PanelSchema: the rules of SnakeSchema (those of CamelSchema, with a field sent as its attribute
name — snake_case, as most of the panel's bodies are — unless it names its camelCase data_key).

The panel sends an empty string for a field left blank: a blank optional field counts as not sent
(or as null where null is allowed), never as a value to validate."""

from __future__ import annotations

from marshmallow import fields, pre_load, validate

from schemas.base import SnakeSchema

# The panel lists everything at once: lists it reads answer at most this many rows (newest first
# where the rule orders them so), so that a row created a moment ago is always on the next load.
LIST_CAP = 500

# The data of an answer whose message says it all: always null.
NO_DATA = {"type": "object", "nullable": True, "enum": [None]}


class PanelSchema(SnakeSchema):
    @pre_load
    def blanks_are_absent(self, data, **kwargs):
        if not isinstance(data, dict):
            return data
        by_key = {f.data_key or name: f for name, f in self.load_fields.items()}
        cleaned = {}
        for key, value in data.items():
            field_obj = by_key.get(key)
            if value == "" and field_obj is not None and not field_obj.required:
                if field_obj.allow_none:
                    cleaned[key] = None
                continue
            cleaned[key] = value
        return cleaned


class PanelInteger(fields.Integer):
    """A whole number, sent as a number or as its digits in a string ("3"), as the panel's form
    inputs and selects send them; anything else ("3.5", "x") is refused as before."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and value.isdigit() and len(value) <= 18:
            value = int(value)
        return super()._deserialize(value, attr, data, **kwargs)


class PanelId(PanelInteger):
    def __init__(self, **kwargs):
        super().__init__(validate=validate.Range(min=1, max=2**63 - 1), **kwargs)


class AnsweredId(fields.String):
    """A row's id (or a reference to one) as the panel reads it: a string ("3"), as the original
    backend answered its BIGINT ids and as the panel compares them with its <select> values; null
    stays null. Requests still send ids as numbers or digits (PanelId)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else str(value)


def AnsweredIds(**kwargs) -> fields.List:  # noqa: N802 - reads like a field class
    return fields.List(AnsweredId(), **kwargs)


def same_as(key: str, **kwargs) -> fields.Function:
    """A field answered with the value of another (the panel reads one fact under two names)."""
    return fields.Function(lambda row: row.get(key), **kwargs)
