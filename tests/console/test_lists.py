"""The console's lists: sortable columns, page numbers and page sizes (hostile values fall
back to the defaults), a "last changed" column, the next-page label that matches the
order, and bulk activation of APIs behind a confirmation listing what changes."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from accounts.roles import Role
from apis.models import Api, IdentifyAndAuthorizePolicy
from applications.models import Application
from authservers.models import AuthorizationServer
from core.config_version import database_version, version_number
from core.models import AuditEvent

API_LIST = reverse("console:api-list")
HOSTILE_SORTS = [
    "password",
    "-",
    "--name",
    "name;DROP TABLE apis_api",
    "__class__",
    "pk",
    "policy__authorization_servers__issuer",
    "x" * 5000,
    "",
]
HOSTILE_SIZES = ["0", "-25", "1000000", "abc", "25.0", "99999999999999999999999", " 50"]
HOSTILE_PAGES = ["abc", "-1", "0", "99999999999999999999", "1e3", "%00"]


def _apis(n: int) -> list[Api]:
    apis = Api.objects.bulk_create(
        Api(
            name=f"Service {k:03d}", base_path=f"/zz{n - k:03d}", upstream_url="http://127.0.0.1:9/"
        )
        for k in range(n)
    )
    # Changed one minute apart, the last one most recently.
    now = timezone.now()
    for k, api in enumerate(apis):
        Api.objects.filter(pk=api.pk).update(updated_at=now - timedelta(minutes=n - k))
    return apis


def _names(response) -> list[str]:
    return [row.name for row in response.context["page"].object_list]


# --- sorting ----------------------------------------------------------------------------


def test_the_api_list_sorts_by_a_column_both_ways(console):
    _apis(5)
    assert _names(console.get(API_LIST)) == [f"Service {k:03d}" for k in range(5)]
    assert _names(console.get(API_LIST, {"sort": "-name"}))[0] == "Service 004"
    # base paths run the other way round from names
    assert _names(console.get(API_LIST, {"sort": "base_path"}))[0] == "Service 004"
    assert _names(console.get(API_LIST, {"sort": "-updated"}))[0] == "Service 004"
    assert _names(console.get(API_LIST, {"sort": "updated"}))[0] == "Service 000"


def test_headers_link_to_the_other_direction_and_say_how_the_list_is_sorted(console):
    _apis(2)
    html = console.get(API_LIST, {"sort": "name", "q": "Service"}).content.decode()
    assert (
        '<th aria-sort="ascending"><a class="sort-link" href="?q=Service&amp;sort=-name">' in html
    )
    # A date column sorts newest first on the first click; filters are kept.
    assert 'href="?q=Service&amp;sort=-updated">Last changed' in html
    html = console.get(API_LIST, {"sort": "-updated"}).content.decode()
    assert '<th aria-sort="descending"><a class="sort-link" href="?sort=updated">' in html


@pytest.mark.parametrize("sort", HOSTILE_SORTS)
def test_a_hostile_sort_falls_back_to_the_default(console, sort):
    _apis(3)
    response = console.get(API_LIST, {"sort": sort})
    assert response.status_code == 200
    assert _names(response) == ["Service 000", "Service 001", "Service 002"]
    assert response.context["listing"].sort == "name"


@pytest.mark.parametrize("url_name", ["application-list", "server-list", "audit-log"])
@pytest.mark.parametrize("sort", ["password", "-__class__", "name;--"])
def test_every_list_refuses_hostile_sorts_quietly(console, url_name, sort):
    response = console.get(reverse(f"console:{url_name}"), {"sort": sort, "per_page": "-1"})
    assert response.status_code == 200


def test_the_application_and_server_lists_sort_too(console, db):
    for name in ("bravo", "alpha", "charlie"):
        Application.objects.create(name=name)
    Application.objects.filter(name="bravo").update(updated_at=timezone.now() + timedelta(hours=1))
    url = reverse("console:application-list")
    assert _names(console.get(url)) == ["alpha", "bravo", "charlie"]
    assert _names(console.get(url, {"sort": "-name"})) == ["charlie", "bravo", "alpha"]
    assert _names(console.get(url, {"sort": "-updated"}))[0] == "bravo"
    for name in ("Zeta IdP", "Alpha IdP"):
        AuthorizationServer.objects.create(
            name=name, kind="external", issuer=f"https://{name[:4].lower()}.example.com"
        )
    servers = reverse("console:server-list")
    rows = console.get(servers, {"sort": "-name"}).context["rows"]
    assert [server.name for server, _ in rows] == ["Zeta IdP", "Alpha IdP"]


# --- page numbers and sizes ----------------------------------------------------------


def test_page_numbers_and_page_sizes(console):
    _apis(260)
    first = console.get(API_LIST)
    assert len(first.context["page"].object_list) == 25
    html = first.content.decode()
    assert 'aria-current="page" aria-label="Page 1">1</a>' in html
    assert 'href="?page=11" aria-label="Page 11">11</a>' in html  # the last page
    assert "…" in html  # the pages between, elided
    assert 'href="?page=5"' not in html
    fifty = console.get(API_LIST, {"per_page": "50", "page": "6"})
    assert len(fifty.context["page"].object_list) == 10
    html = fifty.content.decode()
    assert '<strong aria-current="true">50</strong>' in html
    assert 'href="?per_page=50&amp;page=2" aria-label="Page 2">' in html
    assert 'href="?per_page=100" aria-label="100 per page">' in html
    assert len(console.get(API_LIST, {"per_page": "100"}).context["page"].object_list) == 100


@pytest.mark.parametrize("size", HOSTILE_SIZES)
def test_a_hostile_page_size_falls_back_to_25(console, size):
    _apis(30)
    response = console.get(API_LIST, {"per_page": size})
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 25


@pytest.mark.parametrize("page", HOSTILE_PAGES)
@pytest.mark.parametrize("url_name", ["api-list", "application-list", "server-list", "audit-log"])
def test_a_hostile_page_number_still_shows_a_page(console, url_name, page):
    _apis(30)
    response = console.get(reverse(f"console:{url_name}"), {"page": page})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/console/apis/?server=%C2%B2",  # "²" is a digit to str.isdigit(), not to int()
        "/console/apis/?server=99999999999999999999999",
        "/console/applications/?api=%C2%B2",
        "/console/applications/new/?api=%C2%B2",
        "/console/audit/?object_id=%C2%B2&sort=%00",
    ],
)
def test_hostile_ids_in_list_filters_are_ignored(console, url):
    assert console.get(url).status_code == 200


# --- the next-page label ---------------------------------------------------------------


def test_the_next_page_label_follows_the_order(console):
    _apis(30)
    alphabetical = console.get(API_LIST).content.decode()
    assert "Next →" in alphabetical and "Older" not in alphabetical
    assert "← Previous" in console.get(API_LIST, {"page": "2"}).content.decode()
    newest_first = console.get(API_LIST, {"sort": "-updated"}).content.decode()
    assert "Older →" in newest_first and "Next →" not in newest_first
    oldest_first = console.get(API_LIST, {"sort": "updated"}).content.decode()
    assert "Newer →" in oldest_first


# --- last changed ----------------------------------------------------------------------


def test_the_last_changed_column_shows_when_each_row_changed(console, api, application, server):
    day_ago = timezone.now() - timedelta(days=1)
    Api.objects.filter(pk=api.pk).update(updated_at=day_ago)
    html = console.get(API_LIST).content.decode()
    assert "Last changed" in html
    assert f'data-updated="{day_ago.isoformat()}"' in html
    assert "1\xa0day ago" in html
    # A change through the console moves it.
    console.post(
        reverse("console:api-edit", args=[api.pk]),
        {
            "name": "Petstore",
            "version": "v2",
            "base_path": "/petstore/v1",
            "upstream_url": "http://127.0.0.1:9/",
            "kind": "REST",
            "connect_timeout": "5",
            "read_timeout": "30",
        },
    )
    api.refresh_from_db()
    assert api.updated_at > day_ago
    assertContains(console.get(API_LIST), "just now")
    for url_name in ("application-list", "server-list"):
        assertContains(console.get(reverse(f"console:{url_name}")), "Last changed")


# --- bulk activation ------------------------------------------------------------------------


@pytest.fixture
def three(ready_api, db):
    """A complete inactive API, an incomplete one, and one already active."""
    incomplete = Api.objects.create(
        name="Draft", base_path="/draft", upstream_url="http://127.0.0.1:9/"
    )
    live = Api.objects.create(
        name="Live", base_path="/live", upstream_url="http://127.0.0.1:9/", status="active"
    )
    return ready_api, incomplete, live


def _confirm(client: Client, action: str, apis, **extra):
    query = {"action": action, "apis": [api.pk for api in apis], **extra}
    return client.get(reverse("console:api-bulk-confirm"), query)


def test_the_confirmation_lists_exactly_what_changes(console, three):
    ready, _incomplete, _live = three
    response = _confirm(console, "activate", three, back="sort=-updated")
    html = response.content.decode()
    will = html[html.index('id="will-change"') : html.index('id="refused"')]
    assert "Petstore v1" in will and "inactive → active" in will
    assert "Draft" not in will and "Live" not in will
    refused = html[html.index('id="refused"') : html.index('id="unchanged"')]
    assert "Draft" in refused and "The API has no routes." in refused
    assert "Live" in html[html.index('id="unchanged"') :]
    # Only the APIs that change are posted; nothing changed yet.
    posted = re.findall(r'<input type="hidden" name="apis" value="(\d+)">', html)
    assert posted == [str(ready.pk)]
    assert "Activate 1 API</button>" in html
    assert f'href="{API_LIST}?sort=-updated">Cancel' in html
    assert Api.objects.get(pk=ready.pk).status == "inactive"


@pytest.mark.django_db(transaction=True)
def test_bulk_activation_audits_each_api_and_moves_the_version_once(console, three, ada):
    ready, _incomplete, live = three
    second = Api.objects.create(
        name="Second", base_path="/second", upstream_url="http://127.0.0.1:9/"
    )
    # Complete, like ready: one route and a policy trusting the same server.
    second.routes.create(method="GET", path="/x")
    policy = IdentifyAndAuthorizePolicy.objects.create(api=second, audiences=["second"])
    policy.authorization_servers.set(AuthorizationServer.objects.all())
    version = version_number(database_version())
    response = console.post(
        reverse("console:api-bulk"),
        {"action": "activate", "apis": [ready.pk, second.pk, live.pk], "back": "page=1"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == f"{API_LIST}?page=1"
    messages = [str(m) for m in response.context["messages"]]
    assert "2 APIs activated: Petstore v1, Second." in messages
    assert "Already active, unchanged: Live." in messages
    assert Api.objects.get(pk=ready.pk).status == Api.objects.get(pk=second.pk).status == "active"
    events = AuditEvent.objects.filter(action="activate", object_type="api")
    assert sorted(int(e.object_id) for e in events) == sorted([ready.pk, second.pk])
    assert all(event.actor == ada for event in events)
    assert version_number(database_version()) == version + 1


def test_bulk_deactivation_and_a_refused_api_in_the_same_post(console, three):
    _ready, incomplete, live = three
    response = console.post(
        reverse("console:api-bulk"), {"action": "activate", "apis": [incomplete.pk]}, follow=True
    )
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        "Draft was not activated: The API has no routes. "
        'Attach the "Identify and authorize application" policy.'
    ]
    assert Api.objects.get(pk=incomplete.pk).status == "inactive"
    console.post(reverse("console:api-bulk"), {"action": "deactivate", "apis": [live.pk]})
    assert Api.objects.get(pk=live.pk).status == "inactive"


@pytest.mark.parametrize(
    "data",
    [
        {"action": "delete", "apis": ["1"]},
        {"action": "activate", "apis": ["abc"]},
        {"action": "activate", "apis": ["1 OR 1=1"]},
        {"action": "activate", "apis": ["\u00b2"]},
        {"action": "activate", "apis": ["99999999"]},
        {"action": "activate", "apis": [str(n) for n in range(1, 103)]},
        {"action": "activate"},
        {"apis": ["1"]},
    ],
    ids=[
        "action",
        "letters",
        "injection",
        "superscript",
        "unknown",
        "too-many",
        "none",
        "no-action",
    ],
)
def test_hostile_bulk_input_changes_nothing(console, three, data):
    before = sorted(Api.objects.values_list("pk", "status"))
    for response in (
        console.get(reverse("console:api-bulk-confirm"), data, follow=True),
        console.post(reverse("console:api-bulk"), {**data, "back": "//evil.example/"}, follow=True),
    ):
        assert response.status_code == 200
        assert response.redirect_chain[-1][0].startswith(API_LIST)
        assert any("Nothing was changed" in str(m) for m in response.context["messages"])
    assert sorted(Api.objects.values_list("pk", "status")) == before


def test_a_viewer_cannot_change_apis_in_bulk(console_as, three):
    ready, _incomplete, _live = three
    viewer = console_as(Role.VIEWER)
    html = viewer.get(API_LIST).content.decode()
    assert 'name="apis"' not in html and "bulk-form" not in html
    assertNotContains(viewer.get(API_LIST), reverse("console:api-bulk-confirm"))
    response = _confirm(viewer, "activate", [ready])
    assertContains(response, "needs the operator role", status_code=403)
    response = viewer.post(reverse("console:api-bulk"), {"action": "activate", "apis": [ready.pk]})
    assert response.status_code == 403
    assert Api.objects.get(pk=ready.pk).status == "inactive"
    operator = console_as(Role.OPERATOR)
    assertContains(operator.get(API_LIST), 'name="apis"')
