"""What every resource kind of a configuration file provides, and the registry of kinds.

A kind (authorization servers, APIs, applications, policy chains, traffic limits...) is one
module in configfile/kinds/ with a `Kind` subclass registered in REGISTRY. It says:

- `key` (its top-level key in the file), `spec` (the shape of one item), `name_of` (the
  stable name that identifies an item: never a database id);
- `current()`: the database's state as file items, by name (what export writes);
- `desired()`: one file item with its defaults filled in and names normalised, so that
  comparing it with `current()` tells exactly what would change;
- `check()`: references between resources, after every item was read;
- `create()`, `update()`, `delete()`: the change, through the resource's services;
  `create_many()` all of a kind's creations at once (the bulk services, where a kind has
  them: a restore creates thousands of resources).

Kinds apply in `order` (lowest first) and delete in reverse, so an API's servers exist
before its policy names them and applications let go of an API before it goes.
"""

from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError

from configfile.problems import Problem
from configfile.spec import Obj


@dataclass
class Scope:
    """Which APIs (by base path) a selective export or apply covers; None: everything."""

    apis: set[str] | None = None
    # The servers the scoped APIs' policies name in the file (a diff or apply); None while
    # exporting, where the database's policies say.
    servers: set[str] | None = None
    # Export only: put each confidential client's stored secret hash into the file.
    secret_hashes: bool = False

    @property
    def everything(self) -> bool:
        return self.apis is None


@dataclass
class Context:
    """What an apply (or a plan) knows while it runs."""

    actor: object = None
    base_dir: Path | None = None
    local: bool = True  # env/file secret references may be read here
    prune: bool = False
    scope: Scope = field(default_factory=Scope)
    problems: list[Problem] = field(default_factory=list)
    # (application, client_id, secret) of every generated secret, shown once.
    generated: list[tuple[str, str, str]] = field(default_factory=list)
    # Model instances by kind key and name, filled while applying.
    instances: dict[str, dict] = field(default_factory=dict)
    # Names (by kind key) the file or the database will hold once applied.
    final_names: dict[str, set[str]] = field(default_factory=dict)
    # The file's items by kind key and name, for references into another kind's items
    # (a transformation's route, an application limit's API association).
    desired: dict[str, dict[str, dict]] = field(default_factory=dict)
    # What a kind worked out once and needs again (e.g. whether a secret matches).
    memo: dict = field(default_factory=dict)
    # APIs (by base path) the file has active and creates or changes: their activation
    # checks run once, after every kind was applied (configfile/activation.py).
    activate: set[str] = field(default_factory=set)

    def problem(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message))

    def model_errors(self, where: str, error: ValidationError) -> None:
        """A model's full_clean() errors, each under its field."""
        if hasattr(error, "error_dict"):
            for name, messages in error.message_dict.items():
                at = where if name == "__all__" else f"{where}.{name}"
                for message in messages:
                    self.problem(at, message)
        else:
            for message in error.messages:
                self.problem(where, message)


class Kind:
    key: str = ""
    label: str = ""
    order: int = 0
    spec: Obj
    # Delete before the other kinds create or update (their removal frees what others take).
    delete_first: bool = False
    # Written in a selective (--api) export; kinds about applications are not.
    selective: bool = True

    def where(self, name: str) -> str:
        return f"{self.key}[{name}]"

    def name_of(self, item: dict) -> str:
        return item["name"]

    def in_scope(self, name: str, item: dict, scope: Scope, context: "Context") -> bool:
        return scope.everything

    def current(self, scope: Scope) -> dict[str, dict]:
        raise NotImplementedError

    def desired(self, item: dict, where: str, context: Context) -> dict:
        raise NotImplementedError

    def check(self, desired: dict[str, dict], context: Context) -> None:
        """References to other resources; problems go to `context`."""

    def changed_fields(self, old: dict, new: dict, context: Context) -> list[tuple]:
        """(field, before, after) for every field that differs."""
        return [
            (name, old.get(name), value) for name, value in new.items() if old.get(name) != value
        ]

    def load_instances(self, context: Context) -> None:
        """Fill context.instances[self.key] with the stored instances by name."""

    def create(self, name: str, item: dict, context: Context) -> None:
        raise NotImplementedError

    def create_many(self, items: list[tuple[str, dict]], context: Context) -> None:
        """Every item of this kind the apply creates; a kind with a bulk service
        (apis, applications) overrides it to write them in batches."""
        for name, item in items:
            self.create(name, item, context)

    def update(self, name: str, old: dict, new: dict, context: Context) -> None:
        raise NotImplementedError

    def delete(self, name: str, old: dict, context: Context) -> None:
        raise NotImplementedError


REGISTRY: list[Kind] = []


def register(kind: type[Kind]) -> type[Kind]:
    REGISTRY.append(kind())
    REGISTRY.sort(key=lambda k: k.order)
    return kind


def defaults_of(model, names) -> dict:
    """The model's default value of each field (what a key left out of the file means)."""
    return {name: model._meta.get_field(name).get_default() for name in names}


class PerApiKind(Kind):
    """An item per API, named by the API's base path and scoped with it (an API's policy
    chain, its traffic limits)."""

    label = "API"
    # Gone before an API the file prunes, which would take them along unaudited.
    delete_first = True

    def name_of(self, item: dict) -> str:
        return item["api"]

    def in_scope(self, name, item, scope: "Scope", context: "Context") -> bool:
        return scope.everything or name in scope.apis
