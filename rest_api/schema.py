"""OpenAPI generation: what each operation is called, and the problems it can answer with.

Every operation takes its operationId, summary and description from OPERATIONS, one
table for the whole admin API, so they read as a set and a new endpoint without an
entry is noticed (tests/rest_api/test_schema_contract.py). Errors are
`application/problem+json` (RFC 9457, see exceptions.py): every 4xx/5xx response
references one shared model, ProblemDetails, or ValidationProblem for input errors
(or a problem model that extends it with members of its own).
"""

from dataclasses import dataclass

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_doc, warn
from rest_framework.permissions import AllowAny

from rest_api.exceptions import PROBLEM_CONTENT_TYPE
from rest_api.pagination import MAX_PAGE_SIZE
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


@dataclass(frozen=True)
class Operation:
    id: str
    summary: str
    description: str


_LIST = (
    f" Paged: `page` (from 1) and `page_size` (1 to {MAX_PAGE_SIZE}, default 50); "
    "`ordering` takes the fields listed for it."
)

# (view class, DRF action or handler name[, HTTP method]) -> the operation.
OPERATIONS: dict[tuple[str, ...], Operation] = {
    # Authorization servers
    ("AuthorizationServerViewSet", "list"): Operation(
        "listAuthorizationServers",
        "List authorization servers",
        "The token issuers APIs may trust, each with the state of its key set (`jwks_status`). "
        "Filter by `name`, `kind` or `issuer`; `search` looks in names and issuers." + _LIST,
    ),
    ("AuthorizationServerViewSet", "create"): Operation(
        "createAuthorizationServer",
        "Add an authorization server",
        "An `internal` server is the gateway's own issuer; an `external` one is an identity "
        "provider whose keys are found through its issuer's OpenID discovery document (or "
        "`jwks_uri`) and fetched once the server is saved.",
    ),
    ("AuthorizationServerViewSet", "retrieve"): Operation(
        "getAuthorizationServer",
        "Get an authorization server",
        "One token issuer, with the outcome of its last key fetch (`jwks_status`).",
    ),
    ("AuthorizationServerViewSet", "partial_update"): Operation(
        "updateAuthorizationServer",
        "Change an authorization server",
        "Changes the fields given (PATCH); active APIs that trust the server use the change "
        "at once.",
    ),
    ("AuthorizationServerViewSet", "destroy"): Operation(
        "deleteAuthorizationServer",
        "Delete an authorization server",
        "Refused with 409 `server_in_use` while active APIs trust the server, unless "
        "`deactivate_apis=true` also deactivates them.",
    ),
    ("AuthorizationServerViewSet", "refresh_jwks"): Operation(
        "refreshAuthorizationServerKeys",
        "Fetch an issuer's keys now",
        "Fetches the server's key set at once. A failure is a 502 `jwks_fetch_failed` saying "
        "why; the last good keys keep serving meanwhile.",
    ),
    ("AuthorizationServerViewSet", "rotate_key"): Operation(
        "rotateSigningKey",
        "Rotate the internal issuer's signing key",
        "The next key (already published) starts signing; a new next key is published. "
        "Internal servers only: for an external one it is refused, and `detail` says why.",
    ),
    ("AuthorizationServerViewSet", "revoke_key"): Operation(
        "revokeSigningKey",
        "Revoke a signing key (emergency)",
        "Withdraws the key from the JWKS and from the gateway at once, so tokens it signed "
        "are refused; another key takes over signing. The reason is kept in the audit trail.",
    ),
    # APIs
    ("ApiViewSet", "list"): Operation(
        "listApis",
        "List APIs",
        "The APIs published through the gateway, active or not. Filter by `name`, `status`, "
        "`kind` or `base_path`; `search` looks in names, base paths and descriptions." + _LIST,
    ),
    ("ApiViewSet", "create"): Operation(
        "createApi",
        "Create an API",
        "A new, inactive API under its base path. Add routes and a policy, then activate it.",
    ),
    ("ApiViewSet", "retrieve"): Operation("getApi", "Get an API", "One API and its status."),
    ("ApiViewSet", "partial_update"): Operation(
        "updateApi",
        "Change an API",
        "Changes the fields given (PATCH); an active API serves the change at once.",
    ),
    ("ApiViewSet", "destroy"): Operation(
        "deleteApi", "Delete an API", "Deletes the API with its routes and policy."
    ),
    ("ApiViewSet", "activate"): Operation(
        "activateApi",
        "Activate an API",
        "Starts serving the API through the gateway. An incomplete API (no route, no policy, "
        "no trusted issuer…) is refused with 400 `activation_refused` listing the `problems`.",
    ),
    ("ApiViewSet", "deactivate"): Operation(
        "deactivateApi",
        "Deactivate an API",
        "Stops serving the API; its configuration is kept.",
    ),
    ("ApiViewSet", "import_openapi"): Operation(
        "importOpenApi",
        "Import an OpenAPI document",
        "Creates an inactive API with one route per path and method of an OpenAPI 3 or "
        "Swagger 2 document (JSON or YAML). `warnings` says what could not be mapped exactly; "
        "a document over the size limit is a 413.",
    ),
    ("ApiViewSet", "policy", "GET"): Operation(
        "getApiPolicy",
        "Get an API's policy",
        "The API's *Identify and authorize application* policy; 404 `policy_not_found` "
        "before one is put.",
    ),
    ("ApiViewSet", "policy", "PUT"): Operation(
        "putApiPolicy",
        "Set an API's policy",
        "Creates or replaces the API's *Identify and authorize application* policy: the "
        "authorization servers it trusts, the audiences, scopes and where the token is.",
    ),
    # Routes
    ("RouteViewSet", "list"): Operation(
        "listApiRoutes",
        "List an API's routes",
        "The method and path templates the API serves. Filter by `method`, `path` or "
        "`anonymous`." + _LIST,
    ),
    ("RouteViewSet", "create"): Operation(
        "createApiRoute",
        "Add a route to an API",
        "A method and path template (`{id}` for one segment, a final `{path+}` for the rest), "
        "with the scopes it needs besides the policy's.",
    ),
    ("RouteViewSet", "retrieve"): Operation("getApiRoute", "Get a route", "One route of the API."),
    ("RouteViewSet", "partial_update"): Operation(
        "updateApiRoute",
        "Change a route",
        "Changes the fields given (PATCH); the API's other routes are left as they are.",
    ),
    ("RouteViewSet", "destroy"): Operation(
        "deleteApiRoute", "Delete a route", "The API no longer serves this method and path."
    ),
    # Applications
    ("ApplicationViewSet", "list"): Operation(
        "listApplications",
        "List applications",
        "The gateway's clients. Filter by `name`, `status` or associated API (`apis`); "
        "`search` looks in names and descriptions." + _LIST,
    ),
    ("ApplicationViewSet", "create"): Operation(
        "createApplication",
        "Create an application",
        "A client recognised by the claims its tokens carry (`identifying_claims`), with its "
        "own OAuth2 client for the internal issuer. The answer is the only one that shows the "
        "`client_secret`: store it now.",
    ),
    ("ApplicationViewSet", "retrieve"): Operation(
        "getApplication", "Get an application", "One application, without its secret."
    ),
    ("ApplicationViewSet", "partial_update"): Operation(
        "updateApplication",
        "Change an application",
        "Changes the fields given (PATCH); its tokens are recognised by the new claims at once.",
    ),
    ("ApplicationViewSet", "destroy"): Operation(
        "deleteApplication",
        "Delete an application",
        "Deletes the application and its OAuth2 client; its tokens no longer identify it.",
    ),
    ("ApplicationViewSet", "rotate_secret"): Operation(
        "rotateApplicationSecret",
        "Rotate an application's client secret",
        "Issues a new OAuth2 client secret, shown only in this answer; the previous one stops "
        "working at once.",
    ),
    # Audit trail
    ("AuditEventViewSet", "list"): Operation(
        "listAuditEvents",
        "List audit events",
        "Every configuration change and sign-in event, newest first, with the object's "
        "fields before and after. Filter by `action`, `object_type`, `object_id` or "
        "`actor_name`." + _LIST,
    ),
    ("AuditEventViewSet", "retrieve"): Operation(
        "getAuditEvent", "Get an audit event", "One entry of the audit trail."
    ),
    # Token inspector
    # Traffic analytics
    ("TrafficView", "get"): Operation(
        "getTraffic",
        "Traffic series",
        "Requests, errors (4xx and 5xx), error rate and p50/p95 latency over the last `window` "
        "(hour: per minute, day: per 30 min, week: per 3 h), for every call or one `api` or "
        "`application`, with the top refusal codes. The console's charts show the same series.",
    ),
    ("ApplicationTrafficView", "get"): Operation(
        "getApplicationTraffic",
        "Traffic per application",
        "Calls and errors per application over `window` (busiest first), and when each was "
        "last seen; `api` limits it to one API.",
    ),
    ("TokenInspectorView", "post"): Operation(
        "inspectToken",
        "Inspect a token",
        "What the proxy would decide for this token and call, check by check. Each step says "
        "what was expected and what the token had (audiences, issuers, times, algorithms, key "
        "ids, scopes): details the proxy never tells its own clients. Changes nothing.",
    ),
    # Configuration as code (configfile/)
    ("ConfigExportView", "get"): Operation(
        "exportConfig",
        "Export the configuration as a file",
        "The whole gateway (or `api` and the servers it trusts) as YAML text in `document`: "
        "sorted, without ids or secrets, so the same configuration gives the same bytes. "
        "Administrators only.",
    ),
    ("ConfigDiffView", "post"): Operation(
        "diffConfig",
        "Compare a configuration file with the gateway",
        "What applying the file (`document`: YAML or JSON text, or an object) would change, "
        "resource by resource and field by field; `changed` is false when the gateway "
        "matches it. A file that cannot be applied is a 400 whose `errors` are keyed by the "
        "place of each problem in the file. Changes nothing. Administrators only.",
    ),
    ("ConfigApplyView", "post"): Operation(
        "applyConfig",
        "Apply a configuration file",
        "Makes the gateway look like the file, in one transaction through the same rules as "
        "every other change: one config version, one audit event per changed resource and "
        "one for the apply. A file with any problem changes nothing (400, every problem in "
        "`errors` under its place in the file); a concurrent change that conflicts is a 409. "
        "`prune` deletes what the file no longer names; `dry_run` only checks. Generated "
        "client secrets are in this answer only. Administrators only.",
    ),
}

# The responses added to every operation that may answer them, with what each means.
ERRORS = {
    "400": "Invalid input (`validation_failed`: `errors` has each field's messages, "
    "`error_codes` their codes) or an unreadable JSON body (`parse_error`).",
    "400-query": "An invalid query parameter (`validation_failed`): a filter, `ordering`, "
    "`page` or `page_size`; `errors` names it.",
    "401": "Not authenticated (`not_authenticated`, `authentication_failed`): send a staff "
    "user's key as `Authorization: Token <key>`.",
    "403": "Not a staff user (`permission_denied`), a role that does not allow this "
    "(`role_required`), or a failed CSRF check (`csrf_failed`).",
    "404": "No such object (`not_found`).",
    "404-page": "No such page (`page_not_found`): the detail gives the number of pages.",
    "405": "The method is not allowed here (`method_not_allowed`); the Allow header lists "
    "the ones that are.",
    "406": "The Accept header excludes JSON (`not_acceptable`).",
    "409": "A concurrent change conflicts with this one (`conflict`); retry.",
    "413": "The request body is too large (`payload_too_large`).",
    "415": "The body is not JSON (`unsupported_media_type`): send "
    "`Content-Type: application/json`.",
    "503": "The gateway's database is unavailable (`database_unavailable`); retry after the "
    "Retry-After header's seconds.",
}


class GatekeepAutoSchema(AutoSchema):
    def operation(self) -> Operation | None:
        view = type(self.view).__name__
        name = getattr(self.view, "action", None) or self.method.lower()
        found = OPERATIONS.get((view, name, self.method)) or OPERATIONS.get((view, name))
        if found is None:
            warn(f"rest_api/schema.py OPERATIONS has no entry for {view}.{name} ({self.method})")
        return found

    def get_operation_id(self) -> str:
        found = self.operation()
        return found.id if found else super().get_operation_id()

    def get_summary(self) -> str | None:
        found = self.operation()
        return found.summary if found else None

    def get_description(self) -> str:
        found = self.operation()
        return found.description if found else super().get_description()

    def get_serializer_name(self, serializer, direction) -> str:
        if type(serializer) is ProblemSerializer:
            return "ProblemDetails"
        name = super().get_serializer_name(serializer, direction)
        if direction == "request" and name.endswith("CreatedSerializer"):
            # The body that creates, not the answer that says it was created:
            # ApplicationCreateRequest (the answer is ApplicationCreated).
            return name.removesuffix("CreatedSerializer") + "Create"
        return name

    def _resolve_path_parameters(self, variables):
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            # Ids are routed with [0-9]+ (so /apis/import-openapi/ is never an id): integers.
            if parameter["schema"].get("pattern") == "^[0-9]+$":
                parameter["schema"] = {"type": "integer", "minimum": 0}
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        declared = self.get_response_serializers()
        declared = (
            {str(code): value for code, value in declared.items()}
            if isinstance(declared, dict)
            else {}
        )
        problem = self.resolve_serializer(ProblemSerializer, "response").ref
        invalid = self.resolve_serializer(ValidationProblemSerializer, "response").ref
        has_body = self.method in {"POST", "PUT", "PATCH"} and bool(self._get_request_body())
        is_list = self._is_list_view()
        has_query = is_list or any(p["in"] == "query" for p in self._get_parameters())
        declared_400 = responses.get("400", {}).get("content", {})
        if has_body and any(c.get("schema") == problem for c in declared_400.values()):
            # A refusal declared by the view; the body may also be invalid. ValidationProblem
            # is ProblemDetails with optional `errors`, so it describes both.
            responses.pop("400")
            self._add(responses, "400", invalid, ERRORS["400"] + " Or a refusal: see `detail`.")
        if has_body:
            self._add(responses, "400", invalid, ERRORS["400"])
        elif has_query:
            self._add(responses, "400", invalid, ERRORS["400-query"])
        if not all(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            self._add(responses, "401", problem, ERRORS["401"])
            self._add(responses, "403", problem, ERRORS["403"])
        if "{" in self.path and is_list:
            self._add(
                responses,
                "404",
                problem,
                "No such API (`not_found`), or no such page "
                "(`page_not_found`: the detail gives the number of pages).",
            )
        elif "{" in self.path:
            self._add(responses, "404", problem, ERRORS["404"])
        elif is_list:
            self._add(responses, "404", problem, ERRORS["404-page"])
        self._add(responses, "405", problem, ERRORS["405"])
        self._add(responses, "406", problem, ERRORS["406"])
        if has_body:
            self._add(responses, "409", problem, ERRORS["409"])
            self._add(responses, "413", problem, ERRORS["413"])
            self._add(responses, "415", problem, ERRORS["415"])
        self._add(responses, "503", problem, ERRORS["503"])
        for code, response in responses.items():
            if code[0] not in "45":
                continue
            # Errors declared by a view (@extend_schema) are problems too.
            content = response.get("content")
            if content and PROBLEM_CONTENT_TYPE not in content:
                response["content"] = {PROBLEM_CONTENT_TYPE: next(iter(content.values()))}
            if not response.get("description"):
                response["description"] = self._declared_problem(code, declared.get(code))
        return dict(sorted(responses.items()))

    @staticmethod
    def _declared_problem(code: str, serializer) -> str:
        """What an error response a view declares means: its model's docstring, if it has
        its own, else what the status means here."""
        model = serializer if isinstance(serializer, type) else type(serializer)
        if serializer is not None and model is not ProblemSerializer and model.__doc__:
            return get_doc(model)
        if code == "400":
            return "Refused: `code` and `detail` say why."
        return ERRORS.get(code, "A problem: `code` and `detail` say which.")

    def _add(self, responses: dict, code: str, schema: dict, description: str) -> None:
        if code not in responses:
            responses[code] = {
                "description": description,
                "content": {PROBLEM_CONTENT_TYPE: {"schema": schema}},
            }


def named_parameter_enums(result: dict, generator, **kwargs) -> dict:
    """Query parameters whose choices are a named enum reference it (a postprocessing hook).

    django-filter's choice filters (`status`, `kind`, `method`) would otherwise repeat the
    enum inline, and a generated client would get one more enum type per operation.
    """
    schemas = result.get("components", {}).get("schemas", {})
    by_values: dict[frozenset, list[str]] = {}
    for name, schema in schemas.items():
        if name.endswith("Enum") and "enum" in schema:
            by_values.setdefault(frozenset(schema["enum"]), []).append(name)
    for item in result.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema", {})
                names = by_values.get(frozenset(schema.get("enum", ())), [])
                if parameter.get("in") == "query" and len(names) == 1:
                    parameter["schema"] = {"$ref": f"#/components/schemas/{names[0]}"}
                    if parameter.get("description", "").startswith("* `"):
                        del parameter["description"]  # the enum's own description says it
    return result
