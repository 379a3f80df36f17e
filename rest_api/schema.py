"""OpenAPI generation: every operation also documents the problems it can answer with.

Errors are `application/problem+json` (RFC 9457, see exceptions.py); every 4xx/5xx
response in the schema says so, whether it is added here or declared by a view.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import AllowAny

from rest_api.exceptions import PROBLEM_CONTENT_TYPE
from rest_api.serializers import ProblemSerializer, ValidationProblemSerializer


class AdminTokenScheme(OpenApiAuthenticationExtension):
    """The admin-API key, with either of the scheme names AdminTokenAuthentication accepts."""

    target_class = "rest_api.authentication.AdminTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A staff user's admin-API key, as `Token <key>` or `Bearer <key>` "
            "(create one with `manage.py drf_create_token <username>`).",
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
        problem = self.resolve_serializer(ProblemSerializer, "response").ref
        invalid = self.resolve_serializer(ValidationProblemSerializer, "response").ref
        has_body = self.method in {"POST", "PUT", "PATCH"} and bool(self._get_request_body())
        if has_body or self._is_list_view():
            self._add(responses, "400", invalid, "Invalid input: `errors` lists each field's.")
        if not all(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            self._add(responses, "401", problem, "Not authenticated.")
            self._add(
                responses,
                "403",
                problem,
                "Not a staff user, a role that does not allow this, or a failed CSRF check.",
            )
        if "{" in self.path or self._is_list_view():
            self._add(responses, "404", problem, "No such object, or no such page.")
        if has_body:
            self._add(responses, "409", problem, "A concurrent change conflicts with this one.")
            self._add(responses, "413", problem, "The request body is too large.")
            self._add(responses, "415", problem, "The body is not JSON.")
        self._add(responses, "503", problem, "The gateway's database is unavailable; retry.")
        for code, response in responses.items():
            # Errors declared by a view (@extend_schema) are problems too.
            content = response.get("content")
            if code[0] in "45" and content and PROBLEM_CONTENT_TYPE not in content:
                response["content"] = {PROBLEM_CONTENT_TYPE: next(iter(content.values()))}
        return responses

    def _add(self, responses: dict, code: str, schema: dict, description: str) -> None:
        if code not in responses:
            responses[code] = {
                "description": description,
                "content": {PROBLEM_CONTENT_TYPE: {"schema": schema}},
            }
