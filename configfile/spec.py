"""The shape of a configuration file, declared once: checked here, published as JSON Schema.

Each resource kind (configfile/kinds/) declares an `Obj` of `Field`s. `check()` walks a
loaded document against it and reports every problem with its place (unknown keys are
errors); `json_schema()` renders the same declarations as the JSON Schema published in
docs/gatekeep-config.schema.json (tests/configfile/test_schema.py keeps the two equal).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from configfile.problems import Problem
from configfile.secrets import reference_problem


@dataclass(frozen=True)
class Field:
    """One key of an object. `type` is a JSON type name, or "strings" (a list of strings),
    "string_map" (string → string), "secret" (a reference, see configfile/secrets.py),
    or an `Obj` / a `ListOf`."""

    name: str
    type: object
    description: str = ""
    required: bool = False
    enum: tuple = ()
    max_length: int | None = None
    nullable: bool = False


@dataclass(frozen=True)
class Obj:
    fields: tuple[Field, ...]
    description: str = ""
    # Where a list item of this object is named in messages: item -> its name.
    name_of: Callable[[dict], str] | None = None

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


@dataclass(frozen=True)
class ListOf:
    item: Obj
    max_items: int = 100_000


@dataclass
class Checker:
    problems: list[Problem] = field(default_factory=list)
    line: Callable[[tuple], int | None] = lambda path: None

    def add(self, where: str, path: tuple, message: str) -> None:
        self.problems.append(Problem(where, message, self.line(path)))


_JSON_TYPES = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
}


def _type_name(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def check_object(spec: Obj, value, where: str, path: tuple, checker: Checker) -> bool:
    """Check `value` against `spec`; True when its shape is right (values may still be wrong
    by the model's rules, which apply checks later)."""
    if not isinstance(value, dict):
        checker.add(where, path, f"Expected a mapping, got {_type_name(value)}.")
        return False
    ok = True
    known = {f.name for f in spec.fields}
    for key in value:
        if key not in known:
            allowed = ", ".join(sorted(known))
            checker.add(_join(where, key), (*path, key), f"Unknown key; the keys are {allowed}.")
            ok = False
    for f in spec.fields:
        if f.name not in value:
            if f.required:
                checker.add(where, path, f"The key {f.name!r} is required.")
                ok = False
            continue
        ok = check_value(f, value[f.name], _join(where, f.name), (*path, f.name), checker) and ok
    return ok


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def check_value(f: Field, value, where: str, path: tuple, checker: Checker) -> bool:
    if value is None and f.nullable:
        return True
    kind = f.type
    if isinstance(kind, Obj):
        return check_object(kind, value, where, path, checker)
    if isinstance(kind, ListOf):
        if not isinstance(value, list):
            checker.add(where, path, f"Expected a list, got {_type_name(value)}.")
            return False
        if len(value) > kind.max_items:
            checker.add(where, path, f"At most {kind.max_items} items.")
            return False
        ok = True
        for index, item in enumerate(value):
            name = _item_name(kind.item, item, index)
            ok = check_object(kind.item, item, f"{where}[{name}]", (*path, index), checker) and ok
        return ok
    if kind == "strings":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            checker.add(where, path, "Expected a list of strings.")
            return False
        return True
    if kind == "string_map":
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            checker.add(where, path, "Expected a mapping of names to strings.")
            return False
        return True
    if kind == "secret":
        problem = reference_problem(value)
        if problem:
            checker.add(where, path, problem)
            return False
        return True
    expected = _JSON_TYPES[kind]
    if (isinstance(value, bool) and kind != "boolean") or not isinstance(value, expected):
        article = "an" if kind[0] in "aeiou" else "a"
        checker.add(where, path, f"Expected {article} {kind}, got {_type_name(value)}.")
        return False
    if f.enum and value not in f.enum:
        checker.add(where, path, f"{value!r} is not one of {', '.join(map(str, f.enum))}.")
        return False
    if f.max_length is not None and isinstance(value, str) and len(value) > f.max_length:
        checker.add(where, path, f"At most {f.max_length} characters.")
        return False
    return True


def _item_name(spec: Obj, item, index: int) -> str:
    if spec.name_of is not None and isinstance(item, dict):
        try:
            name = spec.name_of(item)
        except (KeyError, TypeError, AttributeError):
            name = None
        if isinstance(name, str) and name.strip():
            return name[:200]
    return f"#{index + 1}"


# --- JSON Schema -------------------------------------------------------------------


def json_schema_of(f: Field) -> dict:
    kind = f.type
    if isinstance(kind, Obj):
        schema = object_schema(kind)
    elif isinstance(kind, ListOf):
        schema = {"type": "array", "items": object_schema(kind.item), "maxItems": kind.max_items}
    elif kind == "strings":
        schema = {"type": "array", "items": {"type": "string"}}
    elif kind == "string_map":
        schema = {"type": "object", "additionalProperties": {"type": "string"}}
    elif kind == "secret":
        schema = {"$ref": "#/$defs/secretReference"}
    else:
        schema = {"type": kind}
        if f.enum:
            schema["enum"] = list(f.enum)
        if f.max_length is not None:
            schema["maxLength"] = f.max_length
    if f.nullable:
        schema = {"anyOf": [schema, {"type": "null"}]}
    if f.description:
        schema = {"description": f.description, **schema}
    return schema


def object_schema(spec: Obj) -> dict:
    schema: dict = {"type": "object"}
    if spec.description:
        schema["description"] = spec.description
    schema["properties"] = {f.name: json_schema_of(f) for f in spec.fields}
    required = [f.name for f in spec.fields if f.required]
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema
