"""PanelSchema: the rules of CamelSchema (unknown fields refused, strict integers, storable text)
with the wire names written out: a field is sent as its attribute name (snake_case, as most of the
panel's bodies are) unless it names its camelCase data_key."""

from __future__ import annotations

from marshmallow import fields

from schemas.base import CamelSchema, bound


class PanelSchema(CamelSchema):
    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        field_obj.data_key = field_obj.data_key or field_name
        bound(field_obj)


def camel(field_obj: fields.Field, key: str) -> fields.Field:
    """`field_obj` sent under the camelCase `key`."""
    field_obj.data_key = key
    return field_obj
