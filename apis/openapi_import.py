"""Create an inactive API from an OpenAPI 3.x or Swagger 2.0 document (JSON or YAML).

One route per path + method; the upstream comes from `servers[0]` (OpenAPI 3) or
`schemes`/`host`/`basePath` (Swagger 2); each route requires the OAuth2/OpenID
scopes of the operation's security requirement. Everything is validated with the
models' own rules before anything is written, and the import is all or nothing.
"""

import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.text import slugify

from apis.choices import HttpMethod
from apis.models import Api, Route
from apis.paths import normalize_route_template
from apis.services import save_api, save_route
from core import changes
from core.audit import snapshot

MAX_OPERATIONS = 1000
OPERATION_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
_PARAM = re.compile(r"\{([^{}/]*)\}")
_PARAM_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_UNSAFE_IN_SEGMENT = re.compile(r"[^A-Za-z0-9._~-]+")
# libyaml's loader is about 7x faster than the pure-Python one (a 700 KB document:
# 0.18 s instead of 1.2 s) and refuses nesting deeper than 1,000 levels by itself.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DocumentTooLarge(ValidationError):
    """The document is over GATEWAY_OPENAPI_MAX_BYTES (the REST API answers 413)."""

    def __init__(self, size: int | None = None):
        limit = max_document_bytes()
        size_text = f" ({size:,} bytes)" if size is not None else ""
        super().__init__(
            {
                "document": [
                    ValidationError(
                        f"The document{size_text} is larger than the import limit of "
                        f"{_size(limit)} (GATEWAY_OPENAPI_MAX_BYTES); split it or remove "
                        "unused parts such as examples.",
                        code="document_too_large",
                    )
                ]
            }
        )


def max_document_bytes() -> int:
    return settings.GATEWAY_OPENAPI_MAX_BYTES


def _size(size: int) -> str:
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MiB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size:,} bytes"


@dataclass
class ImportResult:
    api: Api
    routes: list[Route]
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Plan:
    """What the document says, before any of it is validated as gateway config."""

    name: str
    version: str
    description: str
    upstream_url: str | None
    routes: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_document(document: str | dict) -> dict:
    """The document as a dict; JSON and YAML text are both accepted (JSON is YAML)."""
    if isinstance(document, dict):
        _check_size(json.dumps(document, separators=(",", ":")))
        return document
    if not isinstance(document, str) or not document.strip():
        raise ValidationError({"document": ["Give the OpenAPI document as JSON or YAML text."]})
    _check_size(document)
    try:
        parsed = json.loads(document)
    except RecursionError:
        raise ValidationError({"document": ["The document is nested too deeply."]}) from None
    except ValueError:
        parsed = _load_yaml(document)
    if not isinstance(parsed, dict):
        raise ValidationError({"document": ["The document must be a JSON/YAML object."]})
    return parsed


def _check_size(text: str) -> None:
    limit = max_document_bytes()
    # Characters first: a cheap bound before encoding (UTF-8 never makes a text shorter).
    size = len(text) if len(text) > limit else len(text.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise DocumentTooLarge(size)


def _load_yaml(document: str):
    try:
        # A safe loader builds plain data only; aliases share objects, so they cannot blow up.
        return yaml.load(document, Loader=YAML_LOADER)  # noqa: S506 - a safe loader
    except RecursionError:
        raise ValidationError({"document": ["The document is nested too deeply."]}) from None
    except yaml.YAMLError as exc:
        if "maximum nesting depth" in str(exc):
            raise ValidationError({"document": ["The document is nested too deeply."]}) from None
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ValidationError(
            {"document": [f"The document is neither JSON nor YAML{where}."]}
        ) from None


def import_openapi(
    document: str | dict,
    actor=None,
    *,
    name: str = "",
    version: str = "",
    base_path: str = "",
    upstream_url: str = "",
) -> ImportResult:
    """Create the API (inactive) and its routes; raise ValidationError and write nothing
    when the document or the resulting configuration is invalid."""
    plan = _read(parse_document(document))
    api = Api(
        name=(name or plan.name)[:100],
        version=(version or plan.version)[:50],
        base_path=base_path or _default_base_path(plan),
        upstream_url=upstream_url or plan.upstream_url or "",
        description=plan.description,
    )
    if not api.upstream_url:
        raise ValidationError(
            {"upstream_url": ["The document names no absolute server URL; give upstream_url."]}
        )
    routes = []
    with changes.changing(api, actor, "import-openapi", describe=_with_routes):
        save_api(api, actor)
        for spec in plan.routes:
            route = Route(api=api, **spec)
            try:
                save_route(route, actor)
            except ValidationError as exc:
                label = f"{spec['method']} {spec['path']}"
                raise ValidationError(
                    {"document": [f"{label}: {' '.join(exc.messages)}"]}
                ) from None
            routes.append(route)
    return ImportResult(api, routes, plan.warnings)


def _with_routes(api: Api) -> dict | None:
    """The audit's account of an import: the API and the routes it brought."""
    if api.pk is None:
        return None
    return {**snapshot(api), "routes": [f"{r.method} {r.path}" for r in api.routes.all()]}


def _read(doc: dict) -> _Plan:
    if isinstance(doc.get("swagger"), str) and doc["swagger"].startswith("2."):
        upstream, warnings = _swagger2_upstream(doc)
        schemes = _mapping(doc.get("securityDefinitions"))
        oauth_schemes = {n for n, s in schemes.items() if _mapping(s).get("type") == "oauth2"}
    elif isinstance(doc.get("openapi"), str) and doc["openapi"].startswith("3."):
        upstream, warnings = _openapi3_upstream(doc)
        schemes = _mapping(_mapping(doc.get("components")).get("securitySchemes"))
        oauth_schemes = {
            n for n, s in schemes.items() if _mapping(s).get("type") in {"oauth2", "openIdConnect"}
        }
    else:
        raise ValidationError(
            {"document": ["Not an OpenAPI 3.x or Swagger 2.0 document (no openapi/swagger field)."]}
        )
    info = _mapping(doc.get("info"))
    plan = _Plan(
        name=_text(info.get("title")) or "Imported API",
        version=_text(info.get("version")),
        description=_text(info.get("description")),
        upstream_url=upstream,
        warnings=warnings,
    )
    paths = doc.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise ValidationError({"document": ["The document has no paths."]})
    root_security = doc.get("security")
    seen: dict[tuple[str, str], str] = {}
    for raw_path, item in paths.items():
        if not isinstance(item, dict):
            plan.warnings.append(f"{raw_path}: skipped, the path item is not an object.")
            continue
        if "$ref" in item:
            plan.warnings.append(f"{raw_path}: skipped, $ref path items are not followed.")
            continue
        template = _template(str(raw_path), plan.warnings)
        if template is None:
            continue
        for method in OPERATION_METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            # Two templates that differ only in parameter names are one route to the proxy.
            shape = (method.upper(), _PARAM.sub("{}", template))
            if shape in seen:
                plan.warnings.append(
                    f"{method.upper()} {raw_path}: skipped, same route as {seen[shape]}."
                )
                continue
            seen[shape] = f"{method.upper()} {raw_path}"
            if len(plan.routes) >= MAX_OPERATIONS:
                raise ValidationError(
                    {"document": [f"The document has more than {MAX_OPERATIONS} operations."]}
                )
            security = operation.get("security", root_security)
            plan.routes.append(
                {
                    "method": getattr(HttpMethod, method.upper()),
                    "path": template,
                    "required_scopes": _scopes(
                        security, oauth_schemes, f"{method.upper()} {raw_path}", plan.warnings
                    ),
                }
            )
    if not plan.routes:
        raise ValidationError({"document": ["The document has no operations to import."]})
    return plan


def _template(raw_path: str, warnings: list[str]) -> str | None:
    """The gateway route template for an OpenAPI path, or None (with a warning)."""
    segments = []
    for segment in raw_path.split("/"):
        params = _PARAM.findall(segment)
        if params and segment != "{" + params[0] + "}":
            # e.g. /files/{name}.json: the gateway matches whole segments only.
            warnings.append(
                f"{raw_path}: the segment '{segment}' is routed as one parameter, "
                f"{{{_param_name(params[0])}}}."
            )
        segments.append("{" + _param_name(params[0]) + "}" if params else segment)
    try:
        return normalize_route_template("/".join(segments))
    except ValidationError as exc:
        warnings.append(f"{raw_path}: skipped, {' '.join(exc.messages)}")
        return None


def _param_name(name: str) -> str:
    cleaned = _PARAM_NAME_UNSAFE.sub("_", name) or "param"
    return cleaned if not cleaned[0].isdigit() else "p" + cleaned


def _scopes(security, oauth_schemes: set[str], label: str, warnings: list[str]) -> list[str]:
    """Scopes of the OAuth2/OpenID requirement; with alternatives, those all of them need."""
    if not isinstance(security, list) or not security:
        if isinstance(security, list):
            warnings.append(
                f"{label}: the document marks it public; it was imported as protected "
                f"(mark the route anonymous to make it public)."
            )
        return []
    alternatives = []
    for requirement in security:
        if not isinstance(requirement, dict):
            continue
        scopes: set[str] = set()
        for scheme, names in requirement.items():
            if scheme in oauth_schemes and isinstance(names, list):
                scopes.update(str(n) for n in names if isinstance(n, str))
        alternatives.append(scopes)
    if not alternatives:
        return []
    common = set.intersection(*alternatives)
    if len({frozenset(a) for a in alternatives}) > 1:
        # Requiring the scopes every alternative needs never refuses a legitimate client.
        warnings.append(
            f"{label}: alternative security requirements; the route requires only the scopes "
            f"they share ({' '.join(sorted(common)) or 'none'})."
        )
    return sorted(common)


def _swagger2_upstream(doc: dict) -> tuple[str | None, list[str]]:
    host = doc.get("host")
    if not isinstance(host, str) or not host:
        return None, ["The document has no host; give upstream_url."]
    schemes = doc.get("schemes") if isinstance(doc.get("schemes"), list) else []
    scheme = "https" if "https" in schemes or not schemes else str(schemes[0])
    base = doc.get("basePath") if isinstance(doc.get("basePath"), str) else ""
    return f"{scheme}://{host}{base}".rstrip("/"), []


def _openapi3_upstream(doc: dict) -> tuple[str | None, list[str]]:
    servers = doc.get("servers")
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
        return None, ["The document has no servers; give upstream_url."]
    server = servers[0]
    url = _text(server.get("url"))
    for variable, spec in _mapping(server.get("variables")).items():
        default = _mapping(spec).get("default")
        url = url.replace("{" + str(variable) + "}", str(default if default is not None else ""))
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None, [f"servers[0] is {url!r}, not an absolute URL; give upstream_url."]
    return url.rstrip("/"), []


def _default_base_path(plan: _Plan) -> str:
    name = slugify(plan.name) or "api"
    version = _UNSAFE_IN_SEGMENT.sub("-", plan.version).strip("-.")
    return f"/{name}/{version}" if version else f"/{name}"


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value) -> str:
    return str(value).strip() if isinstance(value, str | int | float) else ""
