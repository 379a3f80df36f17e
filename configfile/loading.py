"""Reading a configuration file: YAML (or JSON, which is YAML), as plain data, safely.

The file comes from a person or a CI job, so the reader trusts nothing in it:

- its size is capped before parsing (MAX_BYTES);
- anchors and aliases are refused outright: an alias bomb ("billion laughs") fits in a
  few hundred bytes and expands to gigabytes in whatever walks it afterwards;
- explicit tags (`!!python/object`, `!!binary`, `!!timestamp`...) are refused;
- nesting deeper than MAX_DEPTH is refused while parsing, with no recursion, so a file of
  a million `[` cannot exhaust the stack;
- a mapping key given twice is an error (YAML says keys are unique; PyYAML silently keeps
  the last), and keys must be strings;
- scalars become str, int, float, bool or None only; a date or an over-long string is
  an error.

libyaml parses (yaml.CSafeLoader's parser); the document is built here from its events,
keeping the line of every mapping key for error messages.
"""

import functools
import math

import yaml

from configfile.problems import ConfigInvalid, Problem

MAX_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 16
MAX_NODES = 2_000_000
MAX_SCALAR_CHARS = 65536

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SCALAR_TYPES = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


class Loaded:
    """The document and where its keys are: `lines[path]` is the line of that key."""

    def __init__(self, data, lines: dict[tuple, int]):
        self.data = data
        self.lines = lines

    def line(self, path: tuple) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


def _fail(message: str, mark=None) -> ConfigInvalid:
    line = mark.line + 1 if mark is not None else None
    return ConfigInvalid([Problem("file", message, line)])


def load(text: str | bytes) -> Loaded:
    """The file as plain data, or ConfigInvalid saying what is wrong and where."""
    if len(text) > MAX_BYTES:
        raise _fail(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MiB.")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _fail(f"The file is not UTF-8 text (byte {exc.start}).") from None
    loader = _Loader(text)
    try:
        return _build(loader)
    except yaml.MarkedYAMLError as exc:
        problem = exc.problem or str(exc)
        raise _fail(f"Not valid YAML: {problem}.", exc.problem_mark) from None
    except yaml.YAMLError as exc:
        raise _fail(f"Not valid YAML: {exc}.") from None
    finally:
        loader.dispose()


def _build(loader) -> Loaded:
    """Build the one document from parser events, iteratively."""
    lines: dict[tuple, int] = {}
    # Each open container: [value, path, pending key (mappings), key mark].
    stack: list[list] = []
    root = None
    have_root = False
    nodes = 0
    documents = 0
    while True:
        event = loader.get_event()
        if isinstance(event, yaml.StreamEndEvent):
            break
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _fail("The file holds more than one YAML document.", event.start_mark)
            continue
        if isinstance(event, yaml.StreamStartEvent | yaml.DocumentEndEvent):
            continue
        if isinstance(event, yaml.AliasEvent):
            raise _fail(
                "YAML aliases (*name) are not allowed in a configuration file.", event.start_mark
            )
        if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            value, _path, pending_key, _mark = stack.pop()
            if isinstance(value, dict) and pending_key is not _NO_KEY:
                raise _fail("A mapping key has no value.", event.start_mark)
            if not stack:
                root, have_root = value, True
            continue
        nodes += 1
        if nodes > MAX_NODES:
            raise _fail(f"The file has more than {MAX_NODES} values.", event.start_mark)
        if getattr(event, "anchor", None):
            raise _fail(
                "YAML anchors (&name) are not allowed in a configuration file.", event.start_mark
            )
        tag = getattr(event, "tag", None)
        if isinstance(event, yaml.ScalarEvent):
            if tag is not None and not event.implicit[0] and not event.implicit[1]:
                raise _fail(f"Explicit YAML tags ({tag}) are not allowed.", event.start_mark)
            if tag is not None and event.implicit == (False, True) and tag != "!":
                raise _fail(f"Explicit YAML tags ({tag}) are not allowed.", event.start_mark)
            value = _scalar(loader, event)
            container = None
        else:
            if tag is not None:
                raise _fail(f"Explicit YAML tags ({tag}) are not allowed.", event.start_mark)
            if len(stack) >= MAX_DEPTH:
                raise _fail(f"The file is nested deeper than {MAX_DEPTH} levels.", event.start_mark)
            value = {} if isinstance(event, yaml.MappingStartEvent) else []
            container = value
        if not stack:
            if container is None:
                root, have_root = value, True
            else:
                stack.append([container, (), _NO_KEY, None])
            continue
        parent, path, key, _key_mark = stack[-1]
        if isinstance(parent, list):
            child_path = (*path, len(parent))
            lines[child_path] = event.start_mark.line + 1
            parent.append(value)
        elif key is _NO_KEY:
            # This node is a key.
            if container is not None or not isinstance(value, str):
                raise _fail("Mapping keys must be plain strings.", event.start_mark)
            if value in parent:
                raise _fail(
                    f"The key {value!r} appears twice in the same mapping.", event.start_mark
                )
            stack[-1][2] = value
            stack[-1][3] = event.start_mark
            lines[(*path, value)] = event.start_mark.line + 1
            continue
        else:
            child_path = (*path, key)
            parent[key] = value
            stack[-1][2] = _NO_KEY
        if container is not None:
            stack.append([container, child_path, _NO_KEY, None])
    if not have_root:
        return Loaded({}, lines)
    return Loaded(root, lines)


_RESOLVER = yaml.resolver.Resolver()


# A file repeats most of its plain scalars (methods, scopes, flags): each short one is
# resolved once. Long ones are not kept: a cache of 64 KiB values would hold gigabytes.
_CACHED_CHARS = 64


def _resolved(value: str, implicit: tuple[bool, bool]) -> str:
    if len(value) > _CACHED_CHARS:
        return _RESOLVER.resolve(yaml.ScalarNode, value, implicit)
    return _resolved_short(value, implicit)


@functools.lru_cache(maxsize=65536)
def _resolved_short(value: str, implicit: tuple[bool, bool]) -> str:
    return _RESOLVER.resolve(yaml.ScalarNode, value, implicit)


class _NoKey:
    def __repr__(self) -> str:
        return "<no key>"


_NO_KEY = _NoKey()


def _scalar(loader, event):
    if len(event.value) > MAX_SCALAR_CHARS:
        raise _fail(f"A value is longer than {MAX_SCALAR_CHARS} characters.", event.start_mark)
    if event.style is not None and event.style != "":
        return event.value  # quoted or block scalars are strings
    tag = _resolved(event.value, event.implicit)
    if tag not in _SCALAR_TYPES:
        raise _fail(
            f"{event.value!r} reads as a {tag.rsplit(':', 1)[-1]}; quote it to make it a string.",
            event.start_mark,
        )
    if tag.endswith(":str"):
        return event.value
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark)
    value = loader.construct_object(node)
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(f"{event.value!r} is not a finite number.", event.start_mark)
    return value
