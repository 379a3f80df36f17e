"""What applying a file would change: per resource, create, update (field by field) or delete.

`make_plan()` reads a loaded file against the database: the file's shape (every problem
with its place), names that collide once normalised, references between resources, then
the comparison. Nothing here writes.
"""

import unicodedata
from dataclasses import dataclass, field

from apis.models import Api
from authservers.models import AuthorizationServer
from configfile.kinds import REGISTRY, Context, Kind, Scope
from configfile.loading import Loaded
from configfile.problems import ConfigInvalid
from configfile.spec import Checker, Field, ListOf, Obj, check_object

FORMAT_VERSION = 1

SCOPE = Obj(
    (Field("apis", "strings", "Base paths of the APIs this file covers."),),
    "Written by a selective export: the file covers these APIs and the servers they trust.",
)


def document_spec() -> Obj:
    return Obj(
        (
            Field(
                "gatekeep", "integer", "The file format's version.", True, enum=(FORMAT_VERSION,)
            ),
            Field("scope", SCOPE),
            *(Field(kind.key, ListOf(kind.spec)) for kind in REGISTRY),
        ),
        "A Gatekeep gateway configuration. A kind left out is not managed by the file: "
        "apply --prune only removes resources of the kinds it lists.",
    )


@dataclass
class Change:
    kind: Kind
    name: str
    action: str  # create | update | delete
    fields: list[tuple] = field(default_factory=list)
    old: dict | None = None
    new: dict | None = None

    @property
    def where(self) -> str:
        return self.kind.where(self.name)

    def as_dict(self) -> dict:
        return {
            "kind": self.kind.key,
            "name": self.name,
            "action": self.action,
            "fields": [
                {"field": name, "before": before, "after": after}
                for name, before, after in self.fields
            ],
        }


@dataclass
class Plan:
    changes: list[Change]
    # Resources in the gateway the file does not name, kept (no --prune).
    kept: list[str]
    desired: dict[str, dict[str, dict]]
    current: dict[str, dict[str, dict]]

    @property
    def empty(self) -> bool:
        return not self.changes

    def counts(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "delete": 0}
        for change in self.changes:
            counts[change.action] += 1
        return counts

    def render(self) -> str:
        lines = []
        for change in self.changes:
            mark = {"create": "+", "update": "~", "delete": "-"}[change.action]
            lines.append(f"{mark} {change.action} {change.where}")
            if change.action == "update":
                for name, before, after in change.fields:
                    if isinstance(after, dict) and before is None:
                        lines.append(f"    {name}: added")
                    elif isinstance(before, dict) and after is None:
                        lines.append(f"    {name}: removed")
                    else:
                        lines.append(f"    {name}: {_show(before)} -> {_show(after)}")
        counts = self.counts()
        if self.changes:
            lines.append(
                f"{counts['create']} to create, {counts['update']} to update, "
                f"{counts['delete']} to delete."
            )
        else:
            lines.append("No changes: the gateway matches the file.")
        if self.kept:
            lines.append(
                f"{len(self.kept)} resource(s) in the gateway are not in the file and are kept "
                "(--prune removes them): "
                + ", ".join(self.kept[:10])
                + (" ..." if len(self.kept) > 10 else "")
            )
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "changed": not self.empty,
            "counts": self.counts(),
            "changes": [change.as_dict() for change in self.changes],
            "kept": self.kept,
        }


def _show(value) -> str:
    if value is None:
        return "(none)"
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _name_key(name: str) -> str:
    """Names that read alike collide: Unicode compatibility form, case and spaces ignored."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


def resolve_api_names(names: list[str], candidates: dict[str, str]) -> tuple[set[str], list[str]]:
    """Base paths for `--api` values: a base path, or an API name naming exactly one API.
    `candidates` maps base paths to API names. Returns (base paths, problems)."""
    found, problems = set(), []
    for value in names:
        if value in candidates or "/" + value.strip("/") in candidates:
            found.add(value if value in candidates else "/" + value.strip("/"))
            continue
        matches = [path for path, name in candidates.items() if name == value]
        if len(matches) == 1:
            found.add(matches[0])
        elif matches:
            problems.append(
                f"Several APIs are named {value!r} ({', '.join(sorted(matches))}); "
                "give the base path."
            )
        else:
            problems.append(f"No API with the base path or name {value!r}.")
    return found, problems


def make_plan(loaded: Loaded, context: Context, api_names: list[str] | None = None) -> Plan:
    """Compare the file with the gateway; ConfigInvalid lists every problem of the file."""
    checker = Checker(line=loaded.line)
    spec = document_spec()
    if not check_object(spec, loaded.data, "", (), checker):
        raise ConfigInvalid(checker.problems)
    data = loaded.data
    managed = [kind for kind in REGISTRY if kind.key in data]

    desired: dict[str, dict[str, dict]] = {}
    for kind in managed:
        desired[kind.key] = _read_items(kind, data[kind.key], context)

    names = list(api_names or []) or list(data.get("scope", {}).get("apis", []))
    if names:
        file_apis = {path: item["name"] for path, item in desired.get("apis", {}).items()}
        found, problems = resolve_api_names(names, file_apis)
        for problem in problems:
            context.problem("scope", problem)
        servers = {
            server
            for path in found
            for server in (desired["apis"][path]["policy"] or {}).get("authorization_servers", [])
        }
        context.scope = Scope(apis=found, servers=servers)
    for kind in managed:
        desired[kind.key] = {
            name: item
            for name, item in desired[kind.key].items()
            if kind.in_scope(name, item, context.scope, context)
        }
    if context.problems:
        raise ConfigInvalid(context.problems)

    current = {kind.key: kind.current(context.scope) for kind in REGISTRY}
    for kind in REGISTRY:
        names_now = set(current[kind.key])
        wanted = set(desired.get(kind.key, {}))
        pruning = context.prune and kind in managed
        context.final_names[kind.key] = wanted if pruning else wanted | names_now
    if not context.scope.everything:
        # A selective file may name servers the gateway has but the file does not list.
        context.final_names["authorization_servers"] |= set(
            current_servers_named(context.scope.servers or set())
        )
    context.desired = desired
    for kind in managed:
        kind.check(desired[kind.key], context)
    if context.problems:
        raise ConfigInvalid(context.problems)

    changes, kept = [], []
    for kind in REGISTRY:
        wanted = desired.get(kind.key)
        now = current[kind.key]
        if wanted is None:
            continue
        for name, item in wanted.items():
            if name not in now:
                changes.append(Change(kind, name, "create", new=item))
                continue
            fields = kind.changed_fields(now[name], item, context)
            if fields:
                changes.append(Change(kind, name, "update", fields, now[name], item))
        for name in sorted(now.keys() - wanted.keys()):
            if context.prune:
                changes.append(Change(kind, name, "delete", old=now[name]))
            else:
                kept.append(kind.where(name))
    if context.problems:  # e.g. a secret reference that cannot be read
        raise ConfigInvalid(context.problems)
    return Plan(changes, kept, desired, current)


def current_servers_named(names: set[str]) -> list[str]:
    return list(AuthorizationServer.objects.filter(name__in=names).values_list("name", flat=True))


def _read_items(kind: Kind, items: list, context: Context) -> dict[str, dict]:
    """The file's items of one kind, normalised, by name; collisions are problems."""
    result: dict[str, dict] = {}
    seen: dict[str, str] = {}
    for index, item in enumerate(items):
        raw_name = kind.spec.name_of(item)
        where = kind.where(raw_name)
        value = kind.desired(item, where, context)
        if value is None:
            continue
        name = kind.name_of(value)
        key = _name_key(name)
        if key in seen:
            other = seen[key]
            same = "is the same as" if other == name else "collides with"
            context.problem(
                where,
                f"Item #{index + 1}: {name!r} {same} {other!r} once normalised; "
                f"each {kind.label} must be named once.",
            )
            continue
        seen[key] = name
        result[name] = value
    return result


def stored_api_names() -> dict[str, str]:
    return dict(Api.objects.values_list("base_path", "name"))
