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
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
from urllib.parse import quote, unquote_plus

from apis.paths import parse_route_template
from policies.validators import is_protected_header
from proxy.headers import claim_header_value, text_header_value

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
    # The rules compiled to plain functions, per route (rules of the whole API and the
    # route's own, in their order); routes without rules of their own share `*_all`.
    # A request's are two tuples, header steps and query steps: the two never touch
    # the same thing, so only the order within each matters.
    # Compared through the rules above: two compiles of the same rules are equal.
    request_all: tuple[tuple, tuple] = field(default=((), ()), compare=False)
    request_by_route: dict = field(default_factory=dict, compare=False)
    response_all: tuple = field(default=(), compare=False)
    response_by_route: dict = field(default_factory=dict, compare=False)


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
    header_all, header_by_route = _per_route(
        [rule for rule in request if rule.target != QUERY_PARAM], _request_header_step
    )
    query_all, query_by_route = _per_route(
        [rule for rule in request if rule.target == QUERY_PARAM], _query_step
    )
    request_by_route = {
        route: (
            header_by_route.get(route, header_all),
            query_by_route.get(route, query_all),
        )
        for route in header_by_route.keys() | query_by_route.keys()
    }
    response_all, response_by_route = _per_route(response, _response_step)
    return TransformConfig(
        tuple(request),
        tuple(response),
        (header_all, query_all),
        request_by_route,
        response_all,
        response_by_route,
    )


def _per_route(rules: list[Rule], compile_step) -> tuple[tuple, dict]:
    steps = [(rule.route_id, compile_step(rule)) for rule in rules]
    everywhere = tuple(step for route_id, step in steps if route_id is None)
    routes = {route_id for route_id, _ in steps if route_id is not None}
    by_route = {
        route: tuple(step for route_id, step in steps if route_id is None or route_id == route)
        for route in routes
    }
    return everywhere, by_route


# --- values ----------------------------------------------------------------------------


def _getter(rule: Rule):
    """The function giving the rule's value for a decision (None: the rule does nothing)."""
    source, key = rule.source, rule.value
    if source == "constant":
        return lambda decision: key
    if source == "claim":

        def claim(decision):
            token = decision.token
            return None if token is None else token.header_value(key)

        return claim
    if source == "application":
        if key == "id":
            return lambda decision: (
                None if decision.application is None else str(decision.application.id)
            )
        return lambda decision: (
            None if decision.application is None else text_header_value(decision.application.name)
        )
    if source == "path_param":

        def path_param(decision):
            value = path_params(decision.route.path, tuple(decision.segments)).get(key)
            return None if value is None else claim_header_value(value)

        return path_param
    return lambda decision: None


@lru_cache(maxsize=4096)
def path_params(template: str, segments: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for index, segment in enumerate(parse_route_template(template)):
        if segment.kind == "param" and index < len(segments):
            found[segment.value] = segments[index]
        elif segment.kind == "greedy":
            found[segment.value] = "/".join(segments[index:])
    return found


# --- applying them ---------------------------------------------------------------------


def transform_request(
    transforms: TransformConfig | None, decision, headers: list[tuple[str, str]], query: str
) -> tuple[list[tuple[str, str]], str]:
    """Stage 3: `headers` is changed in place; the query is returned with it."""
    if transforms is None:
        return headers, query
    by_route = transforms.request_by_route  # empty unless a rule is a route's own
    header_steps, query_steps = (
        by_route.get(decision.route.id, transforms.request_all)
        if by_route
        else transforms.request_all
    )
    for step in header_steps:
        step(decision, headers)
    for step in query_steps:
        query = step(decision, query)
    return headers, query


_first = itemgetter(0)


def _header_step(rule: Rule, name, new_name, encode):
    """One header rule as a function changing `headers` in place. `name in map(_first, …)`
    looks at the names without a Python loop; the list is rebuilt only when it must.
    `encode`: None for request headers (text), a function for response ones (bytes)."""
    operation = rule.operation
    if operation == "remove":

        def remove(decision, headers: list) -> None:
            if name in map(_first, headers):
                headers[:] = [pair for pair in headers if pair[0] != name]

        return remove
    if operation == "rename":

        def rename(decision, headers: list) -> None:
            if new_name in map(_first, headers):
                headers[:] = [pair for pair in headers if pair[0] != new_name]
            if name in map(_first, headers):
                headers[:] = [(new_name if n == name else n, v) for n, v in headers]

        return rename
    replace = operation == "set"
    if rule.source == "constant":
        # The pair itself is worked out once.
        pair = (name, rule.value if encode is None else encode(rule.value))

        def constant(decision, headers: list) -> None:
            if replace and name in map(_first, headers):
                headers[:] = [p for p in headers if p[0] != name]
            headers.append(pair)

        return constant
    # A request's claim and application name: the two common cases, without a call for
    # the value or its encoding (a response's go the general way below).
    if rule.source == "claim" and encode is None:
        claim_name = rule.value

        def claim(decision, headers: list) -> None:
            token = decision.token
            if token is None:
                return
            try:
                value = token.header_values[claim_name]  # token.header_value(), no call
            except KeyError:
                value = token.header_value(claim_name)
            if value is None:
                return
            if replace and name in map(_first, headers):
                headers[:] = [p for p in headers if p[0] != name]
            headers.append((name, value))

        return claim
    if rule.source == "application" and rule.value == "name" and encode is None:

        def application_name(decision, headers: list) -> None:
            application = decision.application
            if application is None:
                return
            value = text_header_value(application.name)  # text: never None
            if replace and name in map(_first, headers):
                headers[:] = [p for p in headers if p[0] != name]
            headers.append((name, value))

        return application_name
    get = _getter(rule)

    def other(decision, headers: list) -> None:
        value = get(decision)
        if value is None:
            return
        if replace and name in map(_first, headers):
            headers[:] = [p for p in headers if p[0] != name]
        headers.append((name, value if encode is None else encode(value)))

    return other


def _request_header_step(rule: Rule):
    return _header_step(rule, rule.name, rule.new_name, None)


def _response_step(rule: Rule):
    return _header_step(rule, rule.name_b, rule.new_name_b, _latin1)


def _latin1(text: str) -> bytes:
    return text.encode("latin-1")


def _query_step(rule: Rule):
    """A query rule. Where no parameter of the query can be the rule's (its name does not
    occur and nothing is percent- or plus-encoded) and no empty part needs dropping, an
    added pair is appended without splitting the query."""
    name, operation = rule.name, rule.operation
    get = None if rule.constant_query else _getter(rule)

    def plain(query: str) -> bool:
        return not (
            name in query
            or "%" in query
            or "+" in query
            or "&&" in query
            or query[0] == "&"
            or query[-1] == "&"
        )

    adds = operation in ("add", "set")

    def step(decision, query: str) -> str:
        if adds:
            if get is None:
                pair = rule.constant_query
            else:
                value = get(decision)
                if value is None:
                    return query
                pair = f"{rule.query_name}={quote(value, safe='')}"
            if not query:
                return pair
            if operation == "add" or plain(query):
                return query + "&" + pair
            return _query_rule(rule, query, pair)
        if not query:
            return query
        return _query_rule(rule, query, "")

    return step


def _query_rule(rule: Rule, query: str, pair: str) -> str:
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
        if rule.operation == "set":
            parts = [part for part in parts if part and not named(part, rule.name)]
        parts.append(pair)
    return "&".join(parts)
