"""Parsing of API base paths and route templates (`/pets/{id}`, `/files/{path+}`).

The admin side validates with these functions and the proxy compiles its route
trie from the same parse, so a template means the same thing everywhere.
"""

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

# RFC 3986 pchar minus '%' (templates are matched against decoded-free raw paths).
_LITERAL = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=:@]+$")
_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}$")


@dataclass(frozen=True, slots=True)
class Segment:
    kind: str  # "literal" | "param" | "greedy"
    value: str  # the literal text or the parameter name


def split_path(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def normalize_base_path(value: str) -> str:
    """`petstore/v1/` → `/petstore/v1`; raises ValidationError for anything else odd."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("Enter a base path such as /petstore/v1.")
    parts = split_path(value.strip())
    if not parts:
        raise ValidationError("The base path cannot be '/'.")
    for part in parts:
        if part in {".", ".."} or not _LITERAL.match(part):
            raise ValidationError(
                f"'{part}' is not allowed in a base path: use letters, digits and - . _ ~"
            )
    if len(parts) > 20:
        raise ValidationError("The base path has too many segments.")
    return "/" + "/".join(parts)


def parse_route_template(value: str) -> list[Segment]:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValidationError("A route path starts with '/', e.g. /pets/{id}.")
    segments: list[Segment] = []
    names: set[str] = set()
    parts = split_path(value)
    for index, part in enumerate(parts):
        param = _PARAM.match(part)
        if param:
            name, greedy = param.groups()
            if name in names:
                raise ValidationError(f"Parameter '{name}' appears twice.")
            names.add(name)
            if greedy and index != len(parts) - 1:
                raise ValidationError(
                    f"The greedy parameter '{{{name}+}}' must be the last segment."
                )
            segments.append(Segment("greedy" if greedy else "param", name))
        elif part in {".", ".."} or not _LITERAL.match(part) or "{" in part or "}" in part:
            raise ValidationError(f"'{part}' is not a valid path segment.")
        else:
            segments.append(Segment("literal", part))
    if len(segments) > 32:
        raise ValidationError("The route path has too many segments.")
    return segments


def normalize_route_template(value: str) -> str:
    segments = parse_route_template(value)
    rendered = []
    for segment in segments:
        if segment.kind == "literal":
            rendered.append(segment.value)
        elif segment.kind == "param":
            rendered.append("{" + segment.value + "}")
        else:
            rendered.append("{" + segment.value + "+}")
    return "/" + "/".join(rendered)


def route_shape(value: str) -> tuple[str, ...]:
    """A template with parameter names erased: equal shapes match the same requests."""
    shape = {"param": "{}", "greedy": "{+}"}
    return tuple(
        segment.value if segment.kind == "literal" else shape[segment.kind]
        for segment in parse_route_template(value)
    )


# What an example path puts for each parameter: any value matches, these read as examples.
EXAMPLE_VALUES = {"param": "1", "greedy": "example"}


def example_path(template: str) -> str:
    """A concrete path the template matches: `/pets/{id}/files/{path+}` → `/pets/1/files/example`.

    The curl example (console/apis.py) and the inspector link of an application
    (console/applications.py) both use it; tests/apis check the proxy's router agrees.
    """
    return "/" + "/".join(
        segment.value if segment.kind == "literal" else EXAMPLE_VALUES[segment.kind]
        for segment in parse_route_template(template)
    )


class BasePaths:
    """The base paths an API must not take, indexed so that one check costs a few
    dictionary lookups: Api.clean_with() reads it, whether it holds the stored APIs
    (one API saved) or those plus a whole file's (apis/services.py create_apis)."""

    def __init__(self) -> None:
        self._labels: dict[str, str] = {}  # base path -> the API's name, for messages
        self._whole: dict[tuple[str, ...], str] = {}  # segments -> base path
        self._prefixes: dict[tuple[str, ...], str] = {}  # any leading segments -> a path

    def add(self, base_path: str, label: str) -> None:
        parts = tuple(split_path(base_path))
        self._labels[base_path] = label
        self._whole[parts] = base_path
        for length in range(1, len(parts) + 1):
            self._prefixes.setdefault(parts[:length], base_path)

    def taken_by(self, base_path: str) -> str | None:
        """The name of the API at exactly this base path."""
        return self._labels.get(base_path)

    def overlapping(self, base_path: str) -> str | None:
        """A base path that is a prefix of this one, or that this one is a prefix of."""
        parts = tuple(split_path(base_path))
        for length in range(1, len(parts) + 1):
            if parts[:length] in self._whole:
                return self._whole[parts[:length]]
        return self._prefixes.get(parts)
