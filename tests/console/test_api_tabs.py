"""The API page's tabs: each its own server-rendered URL, the current one marked with
aria-current, the policy read-only until Edit is chosen, and the History tab holding the
changes of the API, its routes and its policy."""

import re

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.services import save_api, save_route
from core.models import AuditEvent

TABS = {
    "overview": "api-detail",
    "routes": "api-routes",
    "policy": "api-policy",
    "applications": "api-applications",
    "traffic": "api-traffic",
    "history": "api-history",
}


def _url(name: str, api: Api) -> str:
    return reverse(f"console:{name}", args=[api.pk])


def _current_tabs(html: str) -> list[str]:
    return re.findall(r'id="tab-(\w+)" aria-current="page"', html)


@pytest.mark.parametrize("tab", TABS)
def test_each_tab_is_its_own_page_and_marks_itself_current(console, ready_api, tab):
    html = console.get(_url(TABS[tab], ready_api)).content.decode()
    assert _current_tabs(html) == [tab]
    for name, url_name in TABS.items():
        assert f'href="{_url(url_name, ready_api)}" id="tab-{name}"' in html
    assert '<nav class="tabs" aria-label="API sections">' in html
    assert f'aria-labelledby="tab-{tab}"' in html
    # The header with the API's own actions is on every tab.
    assert _url("api-edit", ready_api) in html


def test_each_tab_shows_only_its_part(console, ready_api, application):
    overview = console.get(_url("api-detail", ready_api))
    assertContains(overview, "Ready to activate")
    assertContains(overview, 'id="curl-example"')
    assertNotContains(overview, _url("route-add", ready_api))
    assertNotContains(overview, 'id="policy-audiences"')
    assertNotContains(overview, "Petstore client")
    routes = console.get(_url("api-routes", ready_api))
    assertContains(routes, _url("route-add", ready_api))
    assertContains(routes, "<code>/pets</code>")
    applications = console.get(_url("api-applications", ready_api))
    assertContains(applications, "Petstore client")
    traffic = console.get(_url("api-traffic", ready_api))
    assertContains(traffic, 'id="traffic"')
    assertContains(traffic, _url("api-limits", ready_api))
    # Tab labels carry their counts.
    assertContains(overview, 'Routes <span class="count">1</span>')
    assertContains(overview, 'Applications <span class="count">1</span>')


def test_the_policy_tab_is_read_only_with_an_explicit_edit(console, ready_api):
    html = console.get(_url("api-policy", ready_api)).content.decode()
    summary = html[html.index('id="policy-summary"') :]
    assert "Dev IdP" in summary and '<span class="chip">petstore</span>' in summary
    assert "<input" not in html[html.index('id="tab-content"') :]  # nothing to change by accident
    assert "Save policy" not in html
    edit = _url("api-policy-edit", ready_api)
    assert f'id="edit-policy" href="{edit}">Edit the policy</a>' in html
    form = console.get(edit)
    assert _current_tabs(form.content.decode()) == ["policy"]
    assertContains(form, 'value="petstore"')
    assertContains(form, f'action="{_url("policy-save", ready_api)}"')
    assertContains(form, f'href="{_url("api-policy", ready_api)}">Cancel</a>')


def test_an_api_without_policy_offers_to_set_one_up(console, api):
    response = console.get(_url("api-policy", api))
    assertContains(response, "No access policy yet")
    assertContains(response, "Set up the policy")


def test_a_refused_policy_save_shows_the_edit_form_with_its_errors(console, ready_api):
    response = console.post(
        _url("policy-save", ready_api),
        {"identity_source": "header", "identity_name": "Bad Header", "audiences": "x"},
    )
    assert response.status_code == 200
    assert _current_tabs(response.content.decode()) == ["policy"]
    assert response.context["policy_form"].errors["identity_name"]
    assert IdentifyAndAuthorizePolicy.objects.get(api=ready_api).identity_name == "Authorization"


def test_a_refused_route_shows_the_routes_tab_with_the_error(console, api):
    response = console.post(_url("route-add", api), {"method": "GET", "path": "no-slash"})
    assert response.status_code == 200
    assert _current_tabs(response.content.decode()) == ["routes"]
    assert response.context["new_route_form"].errors["path"]


def test_route_changes_return_to_the_routes_tab(console, api):
    response = console.post(_url("route-add", api), {"method": "GET", "path": "/pets"})
    assertRedirects(response, _url("api-routes", api))


def test_links_from_before_the_tabs_lead_to_the_routes_tab(console, api):
    route = Route.objects.create(api=api, method="GET", path="/pets")
    response = console.get(_url("api-detail", api) + "?routes_page=2")
    assertRedirects(response, _url("api-routes", api) + "?page=2", fetch_redirect_response=False)
    response = console.get(_url("api-detail", api) + f"?edit_route={route.pk}")
    assertRedirects(
        response, _url("api-routes", api) + f"?edit_route={route.pk}", fetch_redirect_response=False
    )


def test_the_routes_tab_pages_hostile_page_numbers_fall_back(console, api):
    Route.objects.bulk_create(Route(api=api, method="GET", path=f"/r{n:03d}") for n in range(60))
    for page in ("2", "abc", "-1", "0", "99999999999999999999"):
        response = console.get(_url("api-routes", api), {"page": page})
        assert response.status_code == 200, page
    for edit_route in ("\u00b2", "abc", "99999999999999999999999"):
        response = console.get(_url("api-routes", api), {"edit_route": edit_route})
        assert response.status_code == 200, edit_route
    assertContains(
        console.get(_url("api-routes", api), {"page": "2"}), "51\N{EN DASH}60 of 60 routes"
    )


def test_the_history_tab_has_the_changes_of_the_api_its_routes_and_its_policy(
    console, ready_api, ada
):
    ready_api.description = "Pets, now documented."
    save_api(ready_api, actor=ada)
    save_route(Route(api=ready_api, method="DELETE", path="/pets/{id}"), actor=ada)
    other = save_api(Api(name="Other", base_path="/other", upstream_url="http://127.0.0.1:9/"))
    policy = IdentifyAndAuthorizePolicy.objects.get(api=ready_api)
    AuditEvent.objects.create(
        action="update", object_type="identifyandauthorizepolicy", object_id=str(policy.pk)
    )
    response = console.get(_url("api-history", ready_api))
    rows = response.context["rows"]
    kinds = sorted((event.object_type, event.action) for event, _ in rows)
    assert kinds == [
        ("api", "update"),
        ("identifyandauthorizepolicy", "update"),
        ("route", "create"),
    ]
    assert other.pk not in [int(event.object_id) for event, _ in rows if event.object_type == "api"]
    assertContains(response, "Pets, now documented.")
    assertContains(response, "?object_type=api&amp;object_id=")
