"""What the policy and limit kinds share: naming an API, a route or an application the
way the file does, finding them once applied, and saving through a service with each
problem put at its place in the file.

A reference is checked against the state the apply leads to: the file's items when the
file manages that kind (context.desired), the gateway's otherwise.
"""

from django.core.exceptions import ValidationError

from apis.choices import HttpMethod
from apis.models import Api, Route
from apis.paths import normalize_base_path, normalize_route_template
from applications.models import Application
from configfile.kinds.base import Context
from traffic.choices import Period

# A rate's period in the file: a word, where the REST API has seconds.
PERIOD_WORDS = {period.value: period.name.lower() for period in Period}
PERIOD_VALUES = {word: value for value, word in PERIOD_WORDS.items()}


def without_nulls(values: dict) -> dict:
    """A null limit is no limit, which is also what a key left out means: not written."""
    return {key: value for key, value in values.items() if value is not None}


def limit_item(values: dict, periods: dict[str, str]) -> dict:
    """Limits in the file's form: nulls left out, and so is the period of a rate that is
    not set (`periods`: period field → its rate field), as it means nothing then."""
    item = without_nulls(values)
    for period, rate in periods.items():
        if rate not in item:
            item.pop(period, None)
    return item


def period_value(word: str | None) -> int:
    """Seconds of a period word; a period left out (no rate) is the model's default."""
    return PERIOD_VALUES[word] if word is not None else Period.SECOND


def field_changes(old: dict, new: dict, names) -> list[tuple]:
    """(field, before, after) for each of `names` that differs; a key left out (a null
    limit) counts as None, so removing a limit is a change."""
    changed = [(name, old.get(name), new.get(name)) for name in names]
    return [change for change in changed if change[1] != change[2]]


def api_path(value: str, where: str, context: Context) -> str | None:
    """The base path an item names, normalised as the API kind does; None: a problem."""
    try:
        return normalize_base_path(value)
    except ValidationError as exc:
        context.problem(where, " ".join(exc.messages))
        return None


def route_name(value: str, where: str, context: Context) -> str | None:
    """`GET /pets/{id}` (the route's name in the API's item), normalised; None: a problem."""
    method, _, path = value.strip().partition(" ")
    if method not in HttpMethod.values or not path.strip():
        context.problem(
            where,
            f"{value!r} does not name a route: give its method and path, e.g. GET /pets/{{id}} "
            "(ANY for a route of any method).",
        )
        return None
    try:
        return f"{method} {normalize_route_template(path.strip())}"
    except ValidationError as exc:
        context.problem(where, " ".join(exc.messages))
        return None


def check_api(base_path: str, where: str, context: Context) -> bool:
    if base_path in context.final_names.get("apis", set()):
        return True
    context.problem(where, f"No API with the base path {base_path!r} in the file or the gateway.")
    return False


def check_application(name: str, where: str, context: Context) -> bool:
    if name in context.final_names.get("applications", set()):
        return True
    context.problem(where, f"No application named {name!r} in the file or the gateway.")
    return False


def final_routes(base_path: str, context: Context) -> set[str]:
    """The API's routes once applied, by name (`GET /pets/{id}`)."""
    item = context.desired.get("apis", {}).get(base_path)
    if item is not None:
        return {f"{route['method']} {route['path']}" for route in item["routes"]}
    routes = Route.objects.filter(api__base_path=base_path).values_list("method", "path")
    return {f"{method} {path}" for method, path in routes}


def final_application_apis(name: str, context: Context) -> set[str]:
    """Base paths of the APIs the application is associated with once applied."""
    item = context.desired.get("applications", {}).get(name)
    if item is not None:
        return set(item["apis"])
    stored = Application.apis.through.objects.filter(application__name=name)
    return set(stored.values_list("api__base_path", flat=True))


def api_instance(base_path: str, context: Context) -> Api | None:
    """The API, as the API kind created or loaded it in this apply, or as stored."""
    api = context.instances.get("apis", {}).get(base_path)
    return api if api is not None else Api.objects.filter(base_path=base_path).first()


def application_instance(name: str, context: Context) -> Application | None:
    application = context.instances.get("applications", {}).get(name)
    if application is not None:
        return application
    return Application.objects.filter(name=name).first()


def saved(service, instance, where: str, context: Context) -> bool:
    """Write through the resource's service; its model's rules become problems at `where`."""
    try:
        service(instance, context.actor)
    except ValidationError as exc:
        context.model_errors(where, exc)
        return False
    return True
