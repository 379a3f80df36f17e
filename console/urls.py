from django.contrib.auth import views as auth_views
from django.urls import path

from console import (
    api_bulk,
    api_tabs,
    apis,
    applications,
    audit,
    dashboard,
    inspector,
    limits,
    lookups,
    partials,
    policies,
    second_factor,
    servers,
    sso,
)

app_name = "console"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("login/", sso.LoginView.as_view(), name="login"),
    path("login/verify/", second_factor.verify, name="login-verify"),
    path("account/second-factor/", second_factor.setup, name="second-factor"),
    path("account/second-factor/remove/", second_factor.remove, name="second-factor-remove"),
    path("sso/", sso.sso_start, name="sso-start"),
    path("sso/callback/", sso.sso_callback, name="sso-callback"),
    path("logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
    # APIs
    path("apis/", apis.api_list, name="api-list"),
    path("apis/new/", apis.api_create, name="api-create"),
    path("apis/import/", apis.api_import, name="api-import"),
    path("apis/bulk/confirm/", api_bulk.api_bulk_confirm, name="api-bulk-confirm"),
    path("apis/bulk/", api_bulk.api_bulk, name="api-bulk"),
    # The API page's tabs (console/api_tabs.py), each its own URL.
    path("apis/<int:pk>/", api_tabs.api_detail, name="api-detail"),
    path("apis/<int:pk>/routes/", api_tabs.api_routes, name="api-routes"),
    path("apis/<int:pk>/policy/", api_tabs.api_policy, name="api-policy"),
    path("apis/<int:pk>/policy/edit/", api_tabs.api_policy_edit, name="api-policy-edit"),
    path("apis/<int:pk>/applications/", api_tabs.api_applications, name="api-applications"),
    path("apis/<int:pk>/traffic/", api_tabs.api_traffic, name="api-traffic"),
    path("apis/<int:pk>/history/", api_tabs.api_history, name="api-history"),
    path("apis/<int:pk>/edit/", apis.api_edit, name="api-edit"),
    path("apis/<int:pk>/activate/", apis.api_activate, name="api-activate"),
    path(
        "apis/<int:pk>/deactivate/confirm/",
        apis.api_deactivate_confirm,
        name="api-deactivate-confirm",
    ),
    path("apis/<int:pk>/deactivate/", apis.api_deactivate, name="api-deactivate"),
    path("apis/<int:pk>/delete/confirm/", apis.api_delete_confirm, name="api-delete-confirm"),
    path("apis/<int:pk>/delete/", apis.api_delete, name="api-delete"),
    path("apis/<int:pk>/routes/add/", apis.route_add, name="route-add"),
    path("apis/<int:pk>/routes/<int:route_pk>/edit/", apis.route_edit, name="route-edit"),
    path("apis/<int:pk>/routes/<int:route_pk>/row/", apis.route_row, name="route-row"),
    path(
        "apis/<int:pk>/routes/<int:route_pk>/delete/confirm/",
        apis.route_delete_confirm,
        name="route-delete-confirm",
    ),
    path("apis/<int:pk>/routes/<int:route_pk>/delete/", apis.route_delete, name="route-delete"),
    path("apis/<int:pk>/policy/save/", apis.policy_save, name="policy-save"),
    # The policy chain (console/policies.py).
    path("apis/<int:pk>/chain/", policies.chain, name="api-chain"),
    path("apis/<int:pk>/chain/targets/add/", policies.target_add, name="api-chain-target"),
    path(
        "apis/<int:pk>/chain/transformations/add/",
        policies.transformation_add,
        name="api-chain-transformation",
    ),
    path(
        "apis/<int:pk>/chain/<slug:kind>/<int:item_pk>/delete/",
        policies.item_delete,
        name="api-chain-delete",
    ),
    path("apis/<int:pk>/chain/<slug:kind>/", policies.singleton_save, name="api-chain-save"),
    path(
        "apis/<int:pk>/applications/add/",
        apis.application_associate,
        name="api-associate",
    ),
    path(
        "apis/<int:pk>/applications/<int:app_pk>/remove/confirm/",
        apis.application_dissociate_confirm,
        name="api-dissociate-confirm",
    ),
    path(
        "apis/<int:pk>/applications/<int:app_pk>/remove/",
        apis.application_dissociate,
        name="api-dissociate",
    ),
    # Traffic limits (console/limits.py)
    path("apis/<int:pk>/limits/", limits.api_limits, name="api-limits"),
    path("apis/<int:pk>/limits/save/", limits.api_limits_save, name="api-limits-save"),
    path("apis/<int:pk>/limits/delete/", limits.api_limits_delete, name="api-limits-delete"),
    path("applications/<int:pk>/limits/", limits.application_limits, name="application-limits"),
    path(
        "applications/<int:pk>/limits/add/",
        limits.application_limit_add,
        name="application-limit-add",
    ),
    path(
        "applications/<int:pk>/limits/<int:limit_pk>/delete/",
        limits.application_limit_delete,
        name="application-limit-delete",
    ),
    path("applications/<int:pk>/usage/", limits.application_usage_card, name="application-usage"),
    # Applications
    path("applications/", applications.application_list, name="application-list"),
    path("applications/new/", applications.application_create, name="application-create"),
    path("applications/<int:pk>/", applications.application_detail, name="application-detail"),
    path("applications/<int:pk>/edit/", applications.application_edit, name="application-edit"),
    path(
        "applications/<int:pk>/suspend/confirm/",
        applications.application_suspend_confirm,
        name="application-suspend-confirm",
    ),
    path(
        "applications/<int:pk>/suspend/",
        applications.application_suspend,
        name="application-suspend",
    ),
    path(
        "applications/<int:pk>/resume/", applications.application_resume, name="application-resume"
    ),
    path(
        "applications/<int:pk>/rotate-secret/confirm/",
        applications.application_rotate_confirm,
        name="application-rotate-confirm",
    ),
    path(
        "applications/<int:pk>/rotate-secret/",
        applications.application_rotate,
        name="application-rotate",
    ),
    path(
        "applications/<int:pk>/test-token/",
        applications.application_test_token,
        name="application-test-token",
    ),
    path(
        "applications/<int:pk>/delete/confirm/",
        applications.application_delete_confirm,
        name="application-delete-confirm",
    ),
    path(
        "applications/<int:pk>/delete/",
        applications.application_delete,
        name="application-delete",
    ),
    # Authorization servers
    path("servers/", servers.server_list, name="server-list"),
    path("servers/new/", servers.server_create, name="server-create"),
    path("servers/<int:pk>/", servers.server_detail, name="server-detail"),
    path("servers/<int:pk>/edit/", servers.server_edit, name="server-edit"),
    path("servers/<int:pk>/refresh/", servers.server_refresh, name="server-refresh"),
    path(
        "servers/<int:pk>/rotate-key/confirm/",
        servers.server_rotate_confirm,
        name="server-rotate-confirm",
    ),
    path("servers/<int:pk>/rotate-key/", servers.server_rotate, name="server-rotate"),
    path(
        "servers/<int:pk>/keys/<str:kid>/revoke/confirm/",
        servers.server_revoke_confirm,
        name="server-revoke-confirm",
    ),
    path("servers/<int:pk>/keys/<str:kid>/revoke/", servers.server_revoke, name="server-revoke"),
    path(
        "servers/<int:pk>/delete/confirm/",
        servers.server_delete_confirm,
        name="server-delete-confirm",
    ),
    path("servers/<int:pk>/delete/", servers.server_delete, name="server-delete"),
    # Tools
    path("inspector/", inspector.inspector, name="inspector"),
    path("audit/", audit.audit_log, name="audit-log"),
    path("audit/export.<str:fmt>", audit.audit_export, name="audit-export"),
    path("partials/key-value-row/", partials.key_value_row, name="key-value-row"),
    # Search-as-you-type pickers (console/lookups.py)
    path("lookups/apis/", lookups.api_lookup, name="api-lookup"),
    path(
        "apis/<int:pk>/applications/lookup/",
        lookups.unassociated_application_lookup,
        name="api-application-lookup",
    ),
]
