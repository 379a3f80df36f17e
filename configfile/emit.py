"""Writing a document as YAML, fast and always the same way.

Exported documents hold only mappings with plain keys, lists, strings, numbers, booleans
and nulls, so a small emitter does: block style, two-space indents, a string plain when
YAML reads it back as that same string and as JSON text (a valid YAML double-quoted
scalar) otherwise. PyYAML's representer took most of an export's time (about 30 s for
10,000 applications on the benchmark machine). tests/configfile check that what this
writes reads back equal through configfile/loading.py and PyYAML alike.
"""

import functools
import json
import math
import re

import yaml

# Characters a plain scalar may be made of here: no indicator (# , [ ] & * ! | > ' " % @ `)
# at all, none at the start; past the start, braces (path templates such as /pets/{id},
# which YAML's block context reads as text) and a colon not followed by a space (URLs).
_PLAIN = re.compile(r"[A-Za-z0-9_./+$~][A-Za-z0-9_./+$~=(){}: -]*")
# Written as escapes inside quotes: what YAML may not hold raw, and its line breaks beyond
# \n (NEL, LS, PS), which a reader would fold into spaces.
_NON_PRINTABLE = re.compile(yaml.reader.Reader.NON_PRINTABLE.pattern + "|[\x85\u2028\u2029]")
_RESOLVER = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"


def scalar(value) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return _float(value)
    if isinstance(value, str):
        return _string(value)
    raise TypeError(f"cannot write {type(value).__name__}")


def _float(value: float) -> str:
    """repr() in YAML 1.1's float syntax: a dot always, a signed exponent (1.0e+16)."""
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    if exponent and exponent[0] not in "+-":
        exponent = "+" + exponent
    return f"{mantissa}e{exponent}" if exponent else mantissa


# Keys and most values repeat across a file (methods, scopes, paths): each short one is
# judged once. Long ones (descriptions, secret hashes) are not kept in memory.
_CACHED_CHARS = 64


def _string(value: str) -> str:
    return _string_short(value) if len(value) <= _CACHED_CHARS else _string_uncached(value)


@functools.lru_cache(maxsize=65536)
def _string_short(value: str) -> str:
    return _string_uncached(value)


def _string_uncached(value: str) -> str:
    if (
        value
        and _PLAIN.fullmatch(value)
        and not value.endswith((" ", ":"))
        and " -" not in value
        and ": " not in value
        and _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == _STR
    ):
        return value
    # JSON text is a YAML double-quoted scalar; characters YAML may not hold raw (control
    # characters, lone surrogates) are written as escapes.
    return _NON_PRINTABLE.sub(_escape, json.dumps(value, ensure_ascii=False))


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def dump(document: dict) -> str:
    lines: list[str] = []
    _mapping(document, "", lines)
    return "\n".join(lines) + "\n"


def _mapping(mapping: dict, indent: str, lines: list[str], first_prefix: str | None = None) -> None:
    prefix = indent if first_prefix is None else first_prefix
    for key, value in mapping.items():
        head = f"{prefix}{_string(key)}:"
        prefix = indent
        if isinstance(value, dict):
            if value:
                lines.append(head)
                _mapping(value, indent + "  ", lines)
            else:
                lines.append(head + " {}")
        elif isinstance(value, list):
            if value:
                lines.append(head)
                _sequence(value, indent, lines)
            else:
                lines.append(head + " []")
        else:
            lines.append(f"{head} {scalar(value)}")


def _sequence(items: list, indent: str, lines: list[str]) -> None:
    for item in items:
        if isinstance(item, dict) and item:
            _mapping(item, indent + "  ", lines, first_prefix=indent + "- ")
        elif isinstance(item, list):
            raise TypeError("nested lists are not part of the format")
        elif isinstance(item, dict):
            lines.append(f"{indent}- {{}}")
        else:
            lines.append(f"{indent}- {scalar(item)}")
