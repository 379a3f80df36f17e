"""Who may use the console: anonymous users are sent to log in, non-staff users are refused,
mutations accept POST only, and every form carries a CSRF token."""

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains

from apis.models import Api, Route
from applications.models import Application
from authservers.models import AuthorizationServer
from console.access import NOT_STAFF_MESSAGE


@pytest.fixture
def objects(db, api, application):
    route = Route.objects.create(api=api, method="GET", path="/pets")
    server = AuthorizationServer.objects.create(
        name="Remote", kind="external", issuer="https://idp.example.com"
    )
    return {"api": api.pk, "route": route.pk, "app": application.pk, "server": server.pk}


# Pages: (URL name, argument names).
PAGES = [
    ("console:dashboard", []),
    ("console:api-list", []),
    ("console:api-create", []),
    ("console:api-import", []),
    ("console:api-detail", ["api"]),
    ("console:api-routes", ["api"]),
    ("console:api-policy", ["api"]),
    ("console:api-policy-edit", ["api"]),
    ("console:api-applications", ["api"]),
    ("console:api-traffic", ["api"]),
    ("console:api-history", ["api"]),
    ("console:api-edit", ["api"]),
    ("console:api-deactivate-confirm", ["api"]),
    ("console:api-delete-confirm", ["api"]),
    ("console:route-row", ["api", "route"]),
    ("console:route-delete-confirm", ["api", "route"]),
    ("console:api-dissociate-confirm", ["api", "app"]),
    ("console:application-list", []),
    ("console:application-create", []),
    ("console:application-detail", ["app"]),
    ("console:application-edit", ["app"]),
    ("console:application-suspend-confirm", ["app"]),
    ("console:application-rotate-confirm", ["app"]),
    ("console:application-delete-confirm", ["app"]),
    ("console:server-list", []),
    ("console:server-create", []),
    ("console:server-detail", ["server"]),
    ("console:server-edit", ["server"]),
    ("console:server-delete-confirm", ["server"]),
    ("console:inspector", []),
    ("console:audit-log", []),
    ("console:api-lookup", []),
    ("console:api-application-lookup", ["api"]),
]

# htmx fragments, not pages.
FRAGMENTS = ("console:route-row", "console:api-lookup", "console:api-application-lookup")

# Mutations: POST only.
ACTIONS = [
    ("console:api-activate", ["api"]),
    ("console:api-deactivate", ["api"]),
    ("console:api-delete", ["api"]),
    ("console:route-add", ["api"]),
    ("console:route-delete", ["api", "route"]),
    ("console:policy-save", ["api"]),
    ("console:api-associate", ["api"]),
    ("console:api-bulk", []),
    ("console:api-dissociate", ["api", "app"]),
    ("console:application-suspend", ["app"]),
    ("console:application-resume", ["app"]),
    ("console:application-rotate", ["app"]),
    ("console:application-test-token", ["app"]),
    ("console:application-delete", ["app"]),
    ("console:server-refresh", ["server"]),
    ("console:server-rotate", ["server"]),
    ("console:server-delete", ["server"]),
]


def _url(name: str, arg_names: list[str], objects: dict) -> str:
    return reverse(name, args=[objects[arg] for arg in arg_names])


@pytest.mark.parametrize(("name", "args"), PAGES + ACTIONS)
def test_anonymous_users_are_sent_to_the_login_page(anonymous, objects, name, args):
    url = _url(name, args, objects)
    method = anonymous.post if (name, args) in ACTIONS else anonymous.get
    response = method(url)
    assert response.status_code == 302
    assert response["Location"] == f"/console/login/?next={url}"


@pytest.mark.parametrize(("name", "args"), PAGES + ACTIONS)
def test_signed_in_users_without_staff_status_are_refused(member, objects, name, args):
    url = _url(name, args, objects)
    method = member.post if (name, args) in ACTIONS else member.get
    response = method(url)
    assertContains(response, NOT_STAFF_MESSAGE, status_code=403)


def test_a_refused_mutation_changes_nothing(member, objects):
    member.post(reverse("console:api-delete", args=[objects["api"]]))
    member.post(reverse("console:application-suspend", args=[objects["app"]]))
    assert Api.objects.filter(pk=objects["api"]).exists() is True
    assert Application.objects.get(pk=objects["app"]).status == "active"


def test_inactive_staff_accounts_are_refused(objects, ada):
    client = Client()
    client.force_login(ada)
    ada.is_active = False
    ada.save()
    response = client.get(reverse("console:dashboard"))
    assert response.status_code == 302  # an inactive user's session is no longer valid


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_staff_see_every_page(console, objects, name, args):
    response = console.get(_url(name, args, objects))
    assert response.status_code == 200
    assert b"<h1>" in response.content or name in FRAGMENTS


@pytest.mark.parametrize(("name", "args"), ACTIONS)
def test_mutations_accept_post_only(console, objects, name, args):
    assert console.get(_url(name, args, objects)).status_code == 405


@pytest.mark.parametrize(("name", "args"), [a for a in ACTIONS if a[0] != "console:route-add"])
def test_mutations_without_a_csrf_token_are_rejected(ada, objects, name, args):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ada)
    response = client.post(_url(name, args, objects))
    assert response.status_code == 403
    assert Api.objects.filter(pk=objects["api"]).exists() is True


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("console:api-create", []),
        ("console:api-detail", ["api"]),
        ("console:api-routes", ["api"]),
        ("console:api-policy-edit", ["api"]),
        ("console:api-applications", ["api"]),
        ("console:application-detail", ["app"]),
        ("console:server-detail", ["server"]),
        ("console:inspector", []),
        ("console:api-delete-confirm", ["api"]),
    ],
)
def test_every_post_form_carries_a_csrf_token(console, objects, name, args):
    html = console.get(_url(name, args, objects)).content.decode()
    forms = html.count('method="post"')
    assert forms >= 1
    assert html.count('name="csrfmiddlewaretoken"') >= forms


def test_unknown_objects_are_404(console, objects):
    assert console.get(reverse("console:api-detail", args=[999999])).status_code == 404
    other = Api.objects.create(name="Other", base_path="/other", upstream_url="http://127.0.0.1:9")
    route_url = reverse("console:route-delete", args=[other.pk, objects["route"]])
    assert console.post(route_url).status_code == 404  # the route belongs to another API
    assert Route.objects.filter(pk=objects["route"]).exists() is True
