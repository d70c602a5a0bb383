"""The OpenAPI schema class: drf-spectacular's, plus the error answers every API view can give and the unknown fields
a strict serializer refuses."""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="Why the request was refused, in words.")


# A 400 names each field with its messages ({"name": ["..."]}), or the reason as {"detail": [...]}; options nest.
FIELD_ERRORS = {
    "type": "object",
    "additionalProperties": {},
    "description": "Each field in error with its messages; `detail` when the problem is not one field's.",
}


class AutoSchema(openapi.AutoSchema):
    """Documents the errors core.api.exception_handler answers: 401 and 403 anywhere, 400 where the operation
    takes a body or query parameters, 404 on a route that names an object. A view's own declaration wins."""

    def _map_basic_serializer(self, serializer: Any, direction: Any) -> Any:
        schema = super()._map_basic_serializer(serializer, direction)
        # A serializer that answers "Unknown field." to a field it does not know says so in its request schema.
        if direction == "request" and getattr(serializer, "refuses_unknown_fields", False):
            schema["additionalProperties"] = False
        return schema

    def _get_response_bodies(self, direction: Any = "response") -> Any:
        responses = super()._get_response_bodies(direction)
        errors: dict[str, Any] = {"401": ErrorSerializer, "403": ErrorSerializer}
        if self._get_request_body() or any(parameter["in"] == "query" for parameter in self._get_parameters()):
            errors["400"] = FIELD_ERRORS
        if "{" in self.path:
            errors["404"] = ErrorSerializer
        for code, body in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(body, code, direction=direction)
        return responses
