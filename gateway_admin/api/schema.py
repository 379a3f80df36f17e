"""OpenAPI generation: every operation also documents the errors it can answer with."""

from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import AllowAny

from .serializers import ErrorSerializer

# DRF's validation error body: {field: [messages]}, nested for list and object fields.
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": "Field errors, {field: [messages]}; non_field_errors for the rest.",
    "additionalProperties": {},
}


class GatekeepAutoSchema(AutoSchema):
    def _resolve_path_parameters(self, variables):
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            # Ids are routed with [0-9]+ (so /apis/import-openapi/ is never an id): integers.
            if parameter["schema"].get("pattern") == "^[0-9]+$":
                parameter["schema"] = {"type": "integer", "minimum": 0}
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        has_body = self.method in {"POST", "PUT", "PATCH"} and bool(self._get_request_body())
        if has_body or self._is_list_view():
            self._add(responses, "400", VALIDATION_ERROR_SCHEMA, "Invalid input.")
        if not all(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            self._add(responses, "401", error, "Not authenticated.")
            self._add(
                responses,
                "403",
                error,
                "Not a staff user, a role that does not allow this, or a failed CSRF check.",
            )
        if "{" in self.path or self._is_list_view():
            self._add(responses, "404", error, "No such object, or no such page.")
        if has_body:
            self._add(responses, "409", error, "A concurrent change conflicts with this one.")
        return responses

    def _add(self, responses: dict, code: str, schema: dict, description: str) -> None:
        if code not in responses:
            responses[code] = {
                "description": description,
                "content": {"application/json": {"schema": schema}},
            }
