"""Route matching: a per-API trie of path templates, most specific first.

At each segment a literal beats `{param}`, which beats a greedy `{param+}`; the
first template whose methods allow the request wins. A path that matches some
template but none with that method is a 405 listing the allowed methods.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

from apis.choices import CALL_METHODS
from apis.paths import parse_route_template
from proxy.errors import InvalidRequest, MethodNotAllowed, RouteNotFound


@dataclass(frozen=True, slots=True)
class RouteConfig:
    id: int
    method: str
    path: str
    required_scopes: frozenset[str]
    anonymous: bool
    # "GET /pets/{id}": the route's name in metrics, the access log and spans, made once
    # when the config is compiled rather than on every call.
    label: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", f"{self.method} {self.path}")


@dataclass(slots=True)
class _Node:
    literals: dict[str, "_Node"] = field(default_factory=dict)
    folded: dict[str, str] | None = None  # lower-cased literal → literal (case variants)
    param: "_Node | None" = None
    greedy: dict[str, RouteConfig] = field(default_factory=dict)  # method → route
    methods: dict[str, RouteConfig] = field(default_factory=dict)


class RouteTrie:
    def __init__(self, routes: list[RouteConfig]):
        self._root = _Node()
        for route in routes:
            self._insert(route)

    def _insert(self, route: RouteConfig) -> None:
        node = self._root
        for segment in parse_route_template(route.path):
            if segment.kind == "literal":
                if node.folded is None:
                    node.folded = {}
                node.folded[segment.value.lower()] = segment.value
                node = node.literals.setdefault(segment.value, _Node())
            elif segment.kind == "param":
                node.param = node.param or _Node()
                node = node.param
            else:
                node.greedy[route.method] = route
                return
        node.methods[route.method] = route

    def match(self, segments: list[str], method: str) -> RouteConfig:
        allowed: set[str] = set()
        for candidates in self._path_matches(self._root, segments, 0):
            route = _pick_method(candidates, method)
            if route is not None:
                return route
            allowed.update(candidates)
        if allowed:
            if "ANY" in allowed:
                allowed = (allowed - {"ANY"}) | ANY_METHODS
            allow = ", ".join(sorted(allowed | ({"HEAD"} if "GET" in allowed else set())))
            raise MethodNotAllowed(
                f"{method} is not allowed here; allowed: {allow}.",
                check="route",
                headers={"Allow": allow},
            )
        raise RouteNotFound("No route of this API matches the path.", check="route")

    def _path_matches(
        self, node: _Node, segments: list[str], index: int
    ) -> Iterator[dict[str, RouteConfig]]:
        if index == len(segments):
            if node.methods:
                yield node.methods
        else:
            segment = segments[index]
            child = node.literals.get(segment)
            if child is not None:
                yield from self._path_matches(child, segments, index + 1)
            elif node.folded and segment.lower() in node.folded:
                # /Admin/ where a route says /admin/: a case-insensitive upstream would
                # serve /admin/ under another route's rules (proxy/canonical.py).
                raise InvalidRequest(
                    f"The path segment '{segment[:60]}' differs from the route's "
                    f"'{node.folded[segment.lower()]}' only in case; use the exact spelling.",
                    check="route",
                )
            if node.param is not None:
                yield from self._path_matches(node.param, segments, index + 1)
        # A greedy parameter takes one or more remaining segments.
        if node.greedy and index < len(segments):
            yield node.greedy


# Never proxied, even by an ANY route: CONNECT would open a tunnel through the upstream
# connection, TRACE echoes the request (and its credentials) back (cross-site tracing).
NEVER_PROXIED = frozenset({"CONNECT", "TRACE"})
ANY_METHODS = frozenset(CALL_METHODS)


def _pick_method(candidates: dict[str, RouteConfig], method: str) -> RouteConfig | None:
    if method in NEVER_PROXIED:
        return None
    route = candidates.get(method)
    if route is None and method == "HEAD":
        route = candidates.get("GET")
    return route or candidates.get("ANY")
