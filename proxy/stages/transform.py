"""Transformation of request and response headers and query parameters (stages 3 and 5).

Rules run in their order: add, set, rename or remove, with values from a constant,
a token claim, the application or a path parameter of the route. A header the
gateway sets or strips for security (policies/validators.py is_protected_header,
plus the API's claim and token headers) is refused when the rule is saved and
skipped here as well, so a rule can never bring back what the gateway removed.
Values from claims are reduced to printable ASCII (proxy/headers.py), so no value
can split a header; query values are percent-encoded.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, unquote_plus

from apis.paths import parse_route_template
from policies.validators import is_protected_header
from proxy.headers import claim_header_value

_SAFE_CONSTANT = re.compile(r"[\t\x20-\x7e]*")
REQUEST_HEADER, RESPONSE_HEADER, QUERY_PARAM = "request_header", "response_header", "query_param"


@dataclass(frozen=True, slots=True)
class Rule:
    route_id: int | None
    target: str
    operation: str  # add, set, rename, remove
    name: str  # lower-case for headers
    new_name: str
    source: str
    value: str
    # Worked out once at compile time, not per call:
    name_b: bytes = b""  # response header names as the ASGI server wants them
    new_name_b: bytes = b""
    query_name: str = ""  # percent-encoded
    query_new_name: str = ""
    constant_query: str = ""  # "name=value" for a constant added to the query


@dataclass(frozen=True, slots=True)
class TransformConfig:
    request: tuple[Rule, ...]  # request headers and query parameters
    response: tuple[Rule, ...]


def compile_transforms(rows: list | None, reserved: frozenset[str]) -> TransformConfig | None:
    """`reserved`: the API's own claim and token header names, never written either."""
    if not rows:
        return None
    request, response = [], []
    for route_id, target, operation, name, new_name, source, value in rows:
        if target != QUERY_PARAM:
            name, new_name = name.lower(), new_name.lower()
            response_side = target == RESPONSE_HEADER
            if any(
                n
                and (is_protected_header(n, response_side) or (n in reserved and not response_side))
                for n in (name, new_name)
            ):
                continue  # defence in depth: clean() refuses these already
        if source == "constant" and not _SAFE_CONSTANT.fullmatch(value):
            continue  # never a CR, LF or NUL in a header, whatever the snapshot says
        rule = Rule(
            route_id,
            target,
            operation,
            name,
            new_name,
            source,
            value,
            name_b=name.encode("latin-1"),
            new_name_b=new_name.encode("latin-1"),
            query_name=quote(name, safe=""),
            query_new_name=quote(new_name, safe=""),
            constant_query=f"{quote(name, safe='')}={quote(value, safe='')}"
            if source == "constant"
            else "",
        )
        (response if target == RESPONSE_HEADER else request).append(rule)
    return TransformConfig(tuple(request), tuple(response))


def _value(rule: Rule, decision) -> str | None:
    if rule.source == "constant":
        return rule.value
    if rule.source == "claim":
        token = decision.token
        return None if token is None else claim_header_value(token.claims.get(rule.value))
    if rule.source == "application":
        application = decision.application
        if application is None:
            return None
        return str(application.id) if rule.value == "id" else claim_header_value(application.name)
    if rule.source == "path_param":
        value = path_params(decision.route.path, tuple(decision.segments)).get(rule.value)
        return None if value is None else claim_header_value(value)
    return None


@lru_cache(maxsize=4096)
def path_params(template: str, segments: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for index, segment in enumerate(parse_route_template(template)):
        if segment.kind == "param" and index < len(segments):
            found[segment.value] = segments[index]
        elif segment.kind == "greedy":
            found[segment.value] = "/".join(segments[index:])
    return found


def _applies(rule: Rule, decision) -> bool:
    return rule.route_id is None or rule.route_id == decision.route.id


def transform_request(
    transforms: TransformConfig | None, decision, headers: list[tuple[str, str]], query: str
) -> tuple[list[tuple[str, str]], str]:
    if transforms is None or not transforms.request:
        return headers, query
    for rule in transforms.request:
        if not _applies(rule, decision):
            continue
        if rule.target == QUERY_PARAM:
            query = _query_rule(rule, decision, query)
        else:
            headers = _header_rule(rule, decision, headers, rule.name, rule.new_name, str)
    return headers, query


def transform_response(
    transforms: TransformConfig | None, decision, headers: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    if transforms is None or not transforms.response:
        return headers
    for rule in transforms.response:
        if _applies(rule, decision):
            headers = _header_rule(rule, decision, headers, rule.name_b, rule.new_name_b, _latin1)
    return headers


def _latin1(text: str) -> bytes:
    return text.encode("latin-1")


def _header_rule(rule: Rule, decision, headers: list, name, new_name, encode) -> list:
    if rule.operation == "remove":
        return [(n, v) for n, v in headers if n != name]
    if rule.operation == "rename":
        kept = [(n, v) for n, v in headers if n != new_name]
        return [(new_name if n == name else n, v) for n, v in kept]
    value = _value(rule, decision)
    if value is None:
        return headers
    if rule.operation == "set":
        headers = [(n, v) for n, v in headers if n != name]
    return [*headers, (name, encode(value))]


def _query_rule(rule: Rule, decision, query: str) -> str:
    parts = query.split("&") if query else []

    def named(part: str, name: str) -> bool:
        key = part.split("=", 1)[0]
        if "%" in key or "+" in key:
            key = unquote_plus(key)
        return key == name

    if rule.operation == "remove":
        parts = [part for part in parts if part and not named(part, rule.name)]
    elif rule.operation == "rename":
        parts = [part for part in parts if part and not named(part, rule.new_name)]
        parts = [
            rule.query_new_name + ("=" + part.split("=", 1)[1] if "=" in part else "")
            if named(part, rule.name)
            else part
            for part in parts
        ]
    else:
        if rule.constant_query:
            pair = rule.constant_query
        else:
            value = _value(rule, decision)
            if value is None:
                return query
            pair = f"{rule.query_name}={quote(value, safe='')}"
        if rule.operation == "set":
            parts = [part for part in parts if part and not named(part, rule.name)]
        parts.append(pair)
    return "&".join(parts)
