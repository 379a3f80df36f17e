"""Every admin page stays bounded as tables grow (issue 21; bench/admin_scale is the full
measurement at 100,000 applications).

The same pages are loaded with 60 applications and again with 10,060 (10,000 more on
one API): no page's query count may grow, and no page may reach 500 KB. The
pickers that used to list every row search as you type instead.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from applications.models import Application
from authservers.models import AuthorizationServer
from console.common import FIRST_ROWS
from console.forms.pickers import LOOKUP_LIMIT
from core.models import AuditEvent

MAX_PAGE_BYTES = 500 * 1024
# The API page's tabs, each its own URL.
TABS = (
    "api-detail",
    "api-routes",
    "api-policy",
    "api-policy-edit",
    "api-applications",
    "api-traffic",
    "api-history",
)
APIS, ROUTES_PER_API, BIG_API_ROUTES = 60, 3, 60
FEW, MANY = 60, 10_000

pytestmark = pytest.mark.serial  # a measurement: ~10,000 rows and ~40 page loads


def _seed() -> dict:
    server = AuthorizationServer.objects.create(
        name="Scale IdP", kind="external", issuer="https://scale-idp.example.com"
    )
    apis = Api.objects.bulk_create(
        Api(
            name=f"Service {n:02d}",
            version="v1",
            base_path=f"/s{n:02d}/v1",
            upstream_url="http://127.0.0.1:9/",
            status="active",
        )
        for n in range(APIS)
    )
    big, small = apis[0], apis[1]
    Route.objects.bulk_create(
        [Route(api=big, method="GET", path=f"/big{r}/{{id}}") for r in range(BIG_API_ROUTES)]
        + [
            Route(api=api, method="GET", path=f"/r{r}")
            for api in apis[1:]
            for r in range(ROUTES_PER_API)
        ]
    )
    policies = IdentifyAndAuthorizePolicy.objects.bulk_create(
        IdentifyAndAuthorizePolicy(api=api, audiences=["scale"]) for api in apis
    )
    for policy in policies:
        policy.authorization_servers.add(server)
    _add_applications(big, 0, FEW)
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-1")
    AuditEvent.objects.bulk_create(
        AuditEvent(actor=user, action="update", object_type="api", object_id=str(big.pk))
        for _ in range(50)
    )
    return {"big": big, "small": small, "server": server, "user": user}


def _add_applications(api: Api, start: int, stop: int) -> None:
    made = Application.objects.bulk_create(
        Application(name=f"app-{n:05d}", identifying_claims={"client_id": f"c-{n}"})
        for n in range(start, stop)
    )
    through = Application.apis.through
    through.objects.bulk_create(through(application_id=a.pk, api_id=api.pk) for a in made)


def _pages(world: dict) -> list[str]:
    big, small, server = world["big"], world["small"], world["server"]
    app = Application.objects.filter(apis=big).order_by("pk").first()
    route = big.routes.order_by("pk").first()
    return [
        reverse("console:dashboard"),
        reverse("console:api-list"),
        reverse("console:api-list") + "?sort=-updated&per_page=100",
        reverse("console:api-list") + "?sort=status&page=2",
        *(reverse(f"console:{tab}", args=[api.pk]) for tab in TABS for api in (big, small)),
        reverse("console:api-routes", args=[big.pk]) + "?page=2",
        reverse("console:api-bulk-confirm") + f"?action=deactivate&apis={big.pk}&apis={small.pk}",
        reverse("console:api-edit", args=[big.pk]),
        reverse("console:api-delete-confirm", args=[big.pk]),
        reverse("console:application-list"),
        reverse("console:application-list") + f"?api={big.pk}",
        reverse("console:application-list") + "?q=app-0",
        reverse("console:application-list") + "?sort=-updated&per_page=100&page=50",
        reverse("console:application-list") + f"?api={big.pk}&sort=status&page=3",
        reverse("console:application-detail", args=[app.pk]),
        reverse("console:application-edit", args=[app.pk]),
        reverse("console:application-create"),
        reverse("console:server-list"),
        reverse("console:server-list") + "?sort=-updated",
        reverse("console:server-detail", args=[server.pk]),
        reverse("console:inspector") + f"?api={big.pk}",
        reverse("console:audit-log"),
        reverse("console:api-lookup") + "?field=apis&apis__search=Service",
        reverse("console:api-application-lookup", args=[small.pk])
        + "?field=application&type=radio&application__search=app",
        "/api/v1/apis/",
        f"/api/v1/apis/{big.pk}/",
        f"/api/v1/apis/{big.pk}/routes/",
        "/api/v1/applications/",
        f"/api/v1/applications/{app.pk}/",
        f"/api/v1/authorization-servers/{server.pk}/",
        "/api/v1/audit-events/",
        "/admin/apis/api/",
        f"/admin/apis/api/{big.pk}/change/",
        "/admin/apis/route/",
        f"/admin/apis/route/{route.pk}/change/",
        "/admin/applications/application/",
        f"/admin/applications/application/{app.pk}/change/",
        f"/admin/authservers/authorizationserver/{server.pk}/change/",
    ]


def _measure(client: Client, pages: list[str]) -> dict[str, tuple[int, int]]:
    measured = {}
    for url in pages:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        measured[url] = (len(queries.captured_queries), len(response.content))
    return measured


@pytest.fixture
def world(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return _seed()


@pytest.fixture
def root(world) -> Client:
    client = Client()
    client.force_login(world["user"])
    return client


def test_query_counts_do_not_grow_with_the_tables_and_no_page_reaches_500_kb(world, root):
    pages = _pages(world)
    _measure(root, pages)  # warm-up: a first load fills per-process caches (content types)
    few = _measure(root, pages)
    _add_applications(world["big"], FEW, FEW + MANY)
    many = _measure(root, pages)
    # (A page may take one query fewer once a list is too long to fetch as ids first.)
    grown = {url: (few[url][0], many[url][0]) for url in pages if many[url][0] > few[url][0]}
    assert grown == {}, f"query counts grew with 10,000 more applications: {grown}"
    large = {url: size for url, (_, size) in many.items() if size >= MAX_PAGE_BYTES}
    assert large == {}


def test_the_api_page_shows_counts_first_rows_and_a_search_picker(world, root):
    _add_applications(world["big"], FEW, FEW + MANY)
    big = world["big"]
    html = root.get(reverse("console:api-applications", args=[big.pk])).content.decode()
    assert f'Applications <span class="muted">{FEW + MANY}</span>' in html
    rows = re.findall(r'href="/console/applications/\d+/"', html)
    assert len(rows) == FIRST_ROWS
    assert f'href="/console/applications/?api={big.pk}"' in html  # all of them, filtered
    html = root.get(reverse("console:api-routes", args=[big.pk])).content.decode()
    assert f'Routes <span class="muted">{BIG_API_ROUTES}</span>' in html
    assert "of 60 routes" in html  # paginated
    # The small API's "Allow" picker: 10,060 candidates, searched, not listed.
    url = reverse("console:api-applications", args=[world["small"].pk])
    small = root.get(url).content.decode()
    assert "app-00009" not in small  # no option per application
    assert 'name="application__search"' in small


def test_the_filtered_application_list_has_only_that_apis_applications(world, root):
    other = Application.objects.create(name="app-elsewhere")
    other.apis.add(world["small"])
    response = root.get(reverse("console:application-list") + f"?api={world['small'].pk}")
    assert [a.name for a in response.context["page"].object_list] == ["app-elsewhere"]
    assert response.context["page"].paginator.count == 1


def test_lookups_return_at_most_the_limit_and_only_candidates(world, root):
    small = world["small"]
    url = reverse("console:api-application-lookup", args=[small.pk])
    html = root.get(url + "?field=application&type=radio&application__search=app-").content
    assert html.decode().count('type="radio"') == LOOKUP_LIMIT
    assert b"type more to narrow" in html
    one = Application.objects.get(name="app-00007")
    one.apis.add(small)  # associated already: no longer a candidate
    html = root.get(url + "?field=application&application__search=app-00007").content.decode()
    assert "app-00007" not in html
    assert "Nothing matches" in html


def test_a_lookup_refuses_a_field_name_that_is_not_a_name(root):
    url = reverse("console:api-lookup") + '?field="><script>alert(1)</script>'
    assert root.get(url).status_code == 400


def test_associating_by_search_and_without_javascript(world, root):
    small = world["small"]
    picked = Application.objects.get(name="app-00003")
    response = root.post(
        reverse("console:api-associate", args=[small.pk]), {"application": picked.pk}
    )
    assert response.status_code == 302
    assert small.applications.filter(pk=picked.pk).exists()
    # No JavaScript: the exact name typed in the search box picks that application.
    response = root.post(
        reverse("console:api-associate", args=[small.pk]), {"application__search": "app-00004"}
    )
    assert small.applications.filter(name="app-00004").exists()


def test_the_application_form_searches_apis_and_keeps_the_chosen_ones(world, root):
    app = Application.objects.filter(apis=world["big"]).first()
    html = root.get(reverse("console:application-edit", args=[app.pk])).content.decode()
    boxes = re.findall(r'<input type="checkbox" name="apis"[^>]*>', html)
    assert len(boxes) == 1 and "checked" in boxes[0]  # the one it has, not all 60
    assert 'name="apis__search"' in html


def test_the_django_admin_api_page_links_to_its_routes_instead_of_inlining_them(world, root):
    big = world["big"]
    html = root.get(f"/admin/apis/api/{big.pk}/change/").content.decode()
    assert "routes-TOTAL_FORMS" not in html
    assert f"/admin/apis/route/?api__id__exact={big.pk}" in html
    listed = root.get(f"/admin/apis/route/?api__id__exact={big.pk}")
    assert listed.status_code == 200
    assert listed.context["cl"].result_count == BIG_API_ROUTES
