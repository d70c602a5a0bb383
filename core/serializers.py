"""The API's strict input serializer: every field it does not know is an error, at the top level and nested."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers


class Strict(serializers.Serializer):
    """Refuses fields it does not know, at the top level and when nested, alongside every other field error."""

    refuses_unknown_fields = True  # core.schema.AutoSchema: additionalProperties false

    def to_internal_value(self, data: Any) -> Any:
        unknown = sorted(str(k) for k in set(data) - set(self.fields)) if isinstance(data, Mapping) else []
        errors: dict[str, Any] = {name: ["Unknown field."] for name in unknown}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if not errors or not isinstance(error.detail, dict):
                raise
            raise serializers.ValidationError({**error.detail, **errors}) from None
        if errors:
            raise serializers.ValidationError(errors)
        return value
