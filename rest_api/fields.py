"""Serializer fields for the JSON columns of the gateway models.

The models' own validators decide what a valid value is; these fields add what
the database needs (no NUL or lone surrogate, which PostgreSQL's jsonb and both
drivers refuse with a 500) and a precise shape in the OpenAPI schema.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


def _has_unstorable_text(value: object, depth: int) -> bool:
    if depth < 0:
        return True
    if isinstance(value, str):
        return "\x00" in value or any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return any(
            _has_unstorable_text(key, depth - 1) or _has_unstorable_text(item, depth - 1)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return any(_has_unstorable_text(item, depth - 1) for item in value)
    return False


class StorableJSONField(serializers.JSONField):
    max_depth = 20
    default_error_messages = {
        "unstorable": "Text must not contain NUL or unpaired surrogate characters, "
        "and must not be nested more than {max_depth} levels deep.",
    }

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if _has_unstorable_text(value, self.max_depth):
            self.fail("unstorable", max_depth=self.max_depth)
        return value


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class StringListField(StorableJSONField):
    """A JSON list of strings (scopes, audiences); the model validator checks each item."""


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class StringMapField(StorableJSONField):
    """A flat JSON object of strings (claims, claim → header); the model validator checks it."""
