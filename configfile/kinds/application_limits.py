"""Applications' own traffic limits in a configuration file.

An item overrides the defaults of one API (`api`) for one application, or of every API
with limits when `api` is left out (traffic/models.py ApplicationLimit). It is named
`<application> on <base path>` or `<application> on every API`; the application must
call the API (its `apis` in the file, or in the gateway).
"""

from configfile.kinds.base import Context, Kind, Scope, defaults_of, register
from configfile.kinds.references import (
    PERIOD_VALUES,
    PERIOD_WORDS,
    api_instance,
    api_path,
    application_instance,
    check_api,
    check_application,
    field_changes,
    final_application_apis,
    limit_item,
    period_value,
    saved,
)
from configfile.spec import Field, Obj
from traffic import services
from traffic.fields import APPLICATION_LIMIT_FIELDS
from traffic.models import ApplicationLimit

EVERY_API = "every API"
LIMIT_FIELDS = tuple(name for name in APPLICATION_LIMIT_FIELDS if name != "api")


def limit_name(application: str, api: str | None) -> str:
    return f"{application} on {api or EVERY_API}"


SPEC = Obj(
    (
        Field("application", "string", "The application's name.", True, max_length=100),
        Field(
            "api",
            "string",
            "Base path of the API; left out: every API with limits.",
            max_length=300,
        ),
        Field("rate", "integer", "Calls per period; left out: the API's default.", nullable=True),
        Field("period", "string", "The rate's window (default second).", enum=tuple(PERIOD_VALUES)),
        Field("burst", "integer", "Calls admitted at once.", nullable=True),
        Field("quota_per_day", "integer", "Left out: the API's default.", nullable=True),
        Field("quota_per_month", "integer", "Left out: the API's default.", nullable=True),
    ),
    "One application's own limits on one API, or on every API; a rate or a quota is needed.",
    name_of=lambda item: limit_name(item["application"], item.get("api")),
)


def as_item(limit: ApplicationLimit) -> dict:
    item = {
        "application": limit.application.name,
        "api": limit.api.base_path if limit.api_id else None,
    }
    item.update({name: getattr(limit, name) for name in LIMIT_FIELDS})
    item["period"] = PERIOD_WORDS[item["period"]]
    return limit_item(item, {"period": "rate"})


@register
class ApplicationLimits(Kind):
    key = "application_limits"
    label = "application limit"
    order = 60
    spec = SPEC
    delete_first = True  # gone before the application or API the file prunes
    selective = False  # applications are not part of a selective (--api) file

    def name_of(self, item: dict) -> str:
        return limit_name(item["application"], item.get("api"))

    def in_scope(self, name, item, scope: Scope, context: Context) -> bool:
        return scope.everything

    def current(self, scope: Scope) -> dict[str, dict]:
        if not scope.everything:
            return {}
        limits = ApplicationLimit.objects.select_related("application", "api")
        return {self.name_of(item): item for item in map(as_item, limits)}

    def desired(self, item: dict, where: str, context: Context) -> dict | None:
        result = {"application": item["application"], "api": None}
        if item.get("api") is not None:
            result["api"] = api_path(item["api"], f"{where}.api", context)
            if result["api"] is None:
                return None
        defaults = defaults_of(ApplicationLimit, LIMIT_FIELDS)
        defaults["period"] = PERIOD_WORDS[defaults["period"]]
        result.update({name: item.get(name, defaults[name]) for name in LIMIT_FIELDS})
        return limit_item(result, {"period": "rate"})

    def check(self, desired: dict[str, dict], context: Context) -> None:
        for name, item in desired.items():
            where = self.where(name)
            if not check_application(item["application"], f"{where}.application", context):
                continue
            base_path = item.get("api")
            if base_path is None or not check_api(base_path, f"{where}.api", context):
                continue
            if base_path not in final_application_apis(item["application"], context):
                context.problem(
                    f"{where}.api",
                    f"The application {item['application']!r} does not call {base_path}: "
                    "add the API to its apis first.",
                )

    def changed_fields(self, old: dict, new: dict, context: Context) -> list[tuple]:
        return field_changes(old, new, LIMIT_FIELDS)

    # --- applying -----------------------------------------------------------------

    def _stored(self, item: dict) -> ApplicationLimit | None:
        limits = ApplicationLimit.objects.filter(application__name=item["application"])
        if item.get("api") is None:
            return limits.filter(api__isnull=True).first()
        return limits.filter(api__base_path=item["api"]).first()

    def create(self, name: str, item: dict, context: Context) -> None:
        application = application_instance(item["application"], context)
        api = api_instance(item["api"], context) if item.get("api") else None
        if application is None or (item.get("api") and api is None):
            return  # the application or API failed to save, and said why
        self._save(ApplicationLimit(application=application, api=api), name, item, context)

    def update(self, name: str, old: dict, new: dict, context: Context) -> None:
        self._save(self._stored(new), name, new, context)

    def _save(self, limit: ApplicationLimit, name: str, item: dict, context: Context) -> None:
        for field in LIMIT_FIELDS:
            value = item.get(field)
            setattr(limit, field, period_value(value) if field == "period" else value)
        saved(services.save_application_limit, limit, self.where(name), context)

    def delete(self, name: str, old: dict, context: Context) -> None:
        limit = self._stored(old)
        if limit is not None:
            services.delete_application_limit(limit, context.actor)
