"""The REST admin API under /api/v1/ (docs/architecture.md, REST admin API), its OpenAPI
schema and Swagger UI."""

from django.urls import path, re_path
from rest_framework.routers import DefaultRouter

from rest_api.analytics.views import ApplicationTrafficView, TrafficView
from rest_api.apis.views import ApiViewSet, RouteViewSet
from rest_api.applications.views import ApplicationViewSet
from rest_api.authservers.views import AuthorizationServerViewSet
from rest_api.configfile.views import ConfigApplyView, ConfigDiffView, ConfigExportView
from rest_api.traffic.views import (
    ApplicationLimitViewSet,
    ApplicationUsageView,
    LimitPolicyViewSet,
)
from rest_api.views import (
    AuditEventViewSet,
    DocsView,
    SchemaView,
    TokenInspectorView,
    not_found,
)

app_name = "api-v1"

# Per-view schema settings, so the project-wide SPECTACULAR_SETTINGS stay untouched.
SCHEMA_SETTINGS = {
    # Separate request and response components: read-only fields never appear as input.
    "COMPONENT_SPLIT_REQUEST": True,
    # Every enum named after its choices, not after the first field that used it.
    "ENUM_NAME_OVERRIDES": {
        "ApiKindEnum": "apis.choices.ApiKind",
        "ApiStatusEnum": "apis.choices.ApiStatus",
        "ApplicationStatusEnum": "applications.choices.ApplicationStatus",
        "RouteMethodEnum": "apis.choices.HttpMethod",
        "CallMethodEnum": "apis.choices.CALL_METHODS",
        "IdentitySourceEnum": "apis.choices.IdentitySource",
        "ServerKindEnum": "authservers.choices.ServerKind",
        "JwsAlgorithmEnum": "authservers.choices.SUPPORTED_ALGORITHMS",
        "LimitPeriodEnum": "traffic.choices.Period",
        "WhenRedisDownEnum": "traffic.choices.WhenRedisDown",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "rest_api.schema.named_parameter_enums",
    ],
}

router = DefaultRouter()
router.register(
    "authorization-servers", AuthorizationServerViewSet, basename="authorization-server"
)
router.register("apis", ApiViewSet, basename="api")
router.register(r"apis/(?P<api_pk>[0-9]+)/routes", RouteViewSet, basename="api-route")
router.register("applications", ApplicationViewSet, basename="application")
router.register("audit-events", AuditEventViewSet, basename="audit-event")
router.register("limit-policies", LimitPolicyViewSet, basename="limit-policy")
router.register("application-limits", ApplicationLimitViewSet, basename="application-limit")

urlpatterns = [
    path("token-inspector/", TokenInspectorView.as_view(), name="token-inspector"),
    path("applications/<int:pk>/usage/", ApplicationUsageView.as_view(), name="application-usage"),
    path("config/export/", ConfigExportView.as_view(), name="config-export"),
    path("config/diff/", ConfigDiffView.as_view(), name="config-diff"),
    path("config/apply/", ConfigApplyView.as_view(), name="config-apply"),
    path("analytics/traffic/", TrafficView.as_view(), name="analytics-traffic"),
    path(
        "analytics/applications/", ApplicationTrafficView.as_view(), name="analytics-applications"
    ),
    path("schema/", SchemaView.as_view(custom_settings=SCHEMA_SETTINGS), name="schema"),
    path("docs/", DocsView.as_view(url_name="api-v1:schema"), name="docs"),
    *router.urls,
    # Anything else under /api/v1/ (a malformed id, a typo) is a JSON 404, not an HTML page.
    # Only paths ending in "/": without one, APPEND_SLASH still redirects to the real URL.
    re_path(r"^.*/$", not_found, name="not-found"),
]
