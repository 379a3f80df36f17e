"""APIs in the console: list and filters, create/edit, activation, routes, policy,
applications, the curl example and OpenAPI import."""

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from applications.services import create_application
from authservers.models import AuthorizationServer
from core.models import AuditEvent


def _detail(api) -> str:
    return reverse("console:api-detail", args=[api.pk])


def _routes(api) -> str:
    return reverse("console:api-routes", args=[api.pk])


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- list ----------------------------------------------------------------------


def test_the_list_shows_status_base_path_and_upstream(console, api):
    Api.objects.create(name="Billing", base_path="/billing", upstream_url="https://b.internal")
    response = console.get(reverse("console:api-list"))
    assertContains(response, "Petstore")
    assertContains(response, "/petstore/v1")
    assertContains(response, "https://b.internal")
    assertContains(response, "Inactive")


def test_the_list_filters_by_search_and_status(console, api):
    Api.objects.create(name="Billing", base_path="/billing", upstream_url="https://b.internal")
    response = console.get(reverse("console:api-list"), {"q": "bill"})
    assertContains(response, "Billing")
    assertNotContains(response, "/petstore/v1")
    response = console.get(reverse("console:api-list"), {"status": "active"})
    assertContains(response, "No API matches these filters")


def test_the_empty_list_explains_what_an_api_is(console):
    response = console.get(reverse("console:api-list"))
    assertContains(response, "No APIs yet")
    assertContains(response, reverse("console:api-import"))


# --- create and edit --------------------------------------------------------------


def test_creating_an_api_normalises_it_and_records_who_did_it(console, ada):
    response = console.post(
        reverse("console:api-create"),
        {
            "name": "Petstore",
            "version": "v1",
            "base_path": "petstore/v1/",
            "upstream_url": "https://pets.internal",
            "kind": "REST",
            "connect_timeout": "5",
            "read_timeout": "30",
        },
        follow=True,
    )
    api = Api.objects.get()
    assertRedirects(response, _detail(api))
    assert api.base_path == "/petstore/v1"
    assert api.status == "inactive"
    assert "Petstore v1 created. Next: add its routes and the access policy." in _messages(response)
    event = AuditEvent.objects.get(action="create", object_type="api")
    assert event.actor == ada


def test_invalid_fields_are_shown_next_to_the_field(console, api):
    response = console.post(
        reverse("console:api-create"),
        {
            "name": "Overlap",
            "base_path": "/petstore",
            "upstream_url": "ftp://nope",
            "kind": "REST",
            "connect_timeout": "5",
            "read_timeout": "999",
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "Overlaps the base path /petstore/v1" in form.errors["base_path"][0]
    assert form.errors["upstream_url"] == [
        "The upstream must be an absolute http:// or https:// URL."
    ]
    assert form.errors["read_timeout"] == ["Must be between 0 and 600 seconds."]
    assertContains(response, 'class="field has-error"')
    assert Api.objects.count() == 1


def test_editing_an_api_keeps_its_id_and_audits_before_and_after(console, api):
    response = console.post(
        reverse("console:api-edit", args=[api.pk]),
        {
            "name": "Pets",
            "version": "v2",
            "base_path": "/pets/v2",
            "upstream_url": "https://pets.internal",
            "kind": "REST",
            "connect_timeout": "2",
            "read_timeout": "10",
        },
    )
    assertRedirects(response, _detail(api))
    api.refresh_from_db()
    assert (api.name, api.base_path, api.read_timeout) == ("Pets", "/pets/v2", 10.0)
    event = AuditEvent.objects.get(action="update", object_type="api")
    assert event.before["base_path"] == "/petstore/v1"
    assert event.after["base_path"] == "/pets/v2"


def test_an_invalid_edit_changes_nothing(console, api):
    response = console.post(
        reverse("console:api-edit", args=[api.pk]),
        {"name": "", "base_path": "/x", "upstream_url": "http://a", "kind": "REST"},
    )
    assert response.status_code == 200
    assert "name" in response.context["form"].errors
    api.refresh_from_db()
    assert api.base_path == "/petstore/v1"


# --- activation ------------------------------------------------------------------------


def test_activation_refused_lists_what_is_missing(console, api):
    response = console.post(reverse("console:api-activate", args=[api.pk]), follow=True)
    assertRedirects(response, _detail(api))
    assert "Petstore v1 was not activated: fix the 2 problems listed below." in _messages(response)
    assertContains(response, "Before this API can be activated")
    assertContains(response, "The API has no routes.")
    assertContains(response, "Attach the &quot;Identify and authorize application&quot; policy.")
    api.refresh_from_db()
    assert api.status == "inactive"


def test_a_complete_api_says_it_is_ready_and_activates(console, ready_api):
    assertContains(console.get(_detail(ready_api)), "Ready to activate")
    response = console.post(reverse("console:api-activate", args=[ready_api.pk]), follow=True)
    assert "Petstore v1 is active: calls to /gateway/petstore/v1 are served." in _messages(response)
    ready_api.refresh_from_db()
    assert ready_api.status == "active"
    assertContains(response, reverse("console:api-deactivate-confirm", args=[ready_api.pk]))


def test_deactivation_is_confirmed_first(console, ready_api):
    console.post(reverse("console:api-activate", args=[ready_api.pk]))
    page = console.get(reverse("console:api-deactivate-confirm", args=[ready_api.pk]))
    assertContains(page, "Deactivate Petstore v1?")
    assertContains(page, "404 api_not_found")
    assertContains(page, f'action="{reverse("console:api-deactivate", args=[ready_api.pk])}"')
    ready_api.refresh_from_db()
    assert ready_api.status == "active"  # showing the confirmation changed nothing
    response = console.post(reverse("console:api-deactivate", args=[ready_api.pk]), follow=True)
    assert "Petstore v1 is inactive; the gateway no longer serves it." in _messages(response)
    ready_api.refresh_from_db()
    assert ready_api.status == "inactive"


def test_deleting_an_api_is_confirmed_and_audited(console, ready_api, application):
    page = console.get(reverse("console:api-delete-confirm", args=[ready_api.pk]))
    assertContains(page, "Its 1 routes and its access policy are deleted.")
    assertContains(page, "1 applications lose their access to it.")
    response = console.post(reverse("console:api-delete", args=[ready_api.pk]), follow=True)
    assertRedirects(response, reverse("console:api-list"))
    assert "Petstore v1 deleted." in _messages(response)
    assert Api.objects.exists() is False
    assert AuditEvent.objects.filter(action="delete", object_type="api").count() == 1


# --- routes ------------------------------------------------------------------------


def test_adding_a_route(console, api):
    response = console.post(
        reverse("console:route-add", args=[api.pk]),
        {"method": "GET", "path": "/pets/{id}/", "required_scopes": "pets:read, pets:admin"},
        follow=True,
    )
    assert "Route GET /pets/{id} added." in _messages(response)
    route = Route.objects.get(api=api)
    assert route.path == "/pets/{id}"
    assert route.required_scopes == ["pets:read", "pets:admin"]
    assert AuditEvent.objects.filter(action="create", object_type="route").count() == 1


def test_an_invalid_route_is_shown_in_the_add_row(console, api):
    response = console.post(
        reverse("console:route-add", args=[api.pk]),
        {"method": "GET", "path": "/pets/{id", "required_scopes": 'bad"scope'},
    )
    assert response.status_code == 200
    form = response.context["new_route_form"]
    assert form.errors["path"]
    assert form.errors["required_scopes"] == ["'bad\"scope' is not a valid scope."]
    assertContains(response, 'value="/pets/{id"')
    assert Route.objects.exists() is False


def test_a_duplicate_route_is_refused(console, api):
    Route.objects.create(api=api, method="GET", path="/pets")
    response = console.post(
        reverse("console:route-add", args=[api.pk]), {"method": "GET", "path": "/pets"}
    )
    assert response.status_code == 200
    form = response.context["new_route_form"]
    assert form.is_valid() is False
    assertContains(response, 'class="error"')  # the model's reason, shown in the add row
    assert Route.objects.count() == 1


def test_editing_a_route_inline_without_javascript(console, api):
    route = Route.objects.create(api=api, method="GET", path="/pets")
    response = console.get(reverse("console:route-edit", args=[api.pk, route.pk]))
    assertRedirects(response, f"{_routes(api)}?edit_route={route.pk}#route-{route.pk}")
    page = console.get(f"{_routes(api)}?edit_route={route.pk}")
    assertContains(page, 'class="editing"')
    assertContains(page, reverse("console:route-edit", args=[api.pk, route.pk]))
    response = console.post(
        reverse("console:route-edit", args=[api.pk, route.pk]),
        {"method": "POST", "path": "/pets", "anonymous": "on"},
        follow=True,
    )
    assert "Route POST /pets saved." in _messages(response)
    route.refresh_from_db()
    assert (route.method, route.anonymous) == ("POST", True)


def test_editing_a_route_with_htmx_swaps_the_row(console, api):
    route = Route.objects.create(api=api, method="GET", path="/pets")
    url = reverse("console:route-edit", args=[api.pk, route.pk])
    response = console.get(url, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<tr class="editing"')
    assert 'name="csrfmiddlewaretoken"' in html
    row = console.get(reverse("console:route-row", args=[api.pk, route.pk]))
    assert row.content.decode().lstrip().startswith(f'<tr id="route-{route.pk}"')


def test_an_invalid_route_edit_keeps_the_row_open_with_the_error(console, api):
    route = Route.objects.create(api=api, method="GET", path="/pets")
    response = console.post(
        reverse("console:route-edit", args=[api.pk, route.pk]),
        {"method": "GET", "path": "no/../dots"},
    )
    assert response.status_code == 200
    assert response.context["editing"].errors["path"]
    assertContains(response, 'class="editing"')
    route.refresh_from_db()
    assert route.path == "/pets"


def test_deleting_a_route_is_confirmed(console, ready_api):
    route = ready_api.routes.get()
    page = console.get(reverse("console:route-delete-confirm", args=[ready_api.pk, route.pk]))
    assertContains(page, "Delete route GET /pets?")
    response = console.post(
        reverse("console:route-delete", args=[ready_api.pk, route.pk]), follow=True
    )
    assert "Route GET /pets deleted." in _messages(response)
    assert ready_api.routes.exists() is False


# --- policy ------------------------------------------------------------------------


def _policy_data(**overrides) -> dict:
    data = {
        "identity_source": "header",
        "identity_name": "Authorization",
        "audiences": "petstore pets",
        "required_scopes": "",
        "forward_claims-key": ["email", ""],
        "forward_claims-value": ["X-User-Email", ""],
    }
    data.update(overrides)
    return data


def test_saving_the_policy(console, api, server):
    response = console.post(
        reverse("console:policy-save", args=[api.pk]),
        _policy_data(authorization_servers=[server.pk], required_scopes="pets:read"),
        follow=True,
    )
    assert "Access policy saved." in _messages(response)
    policy = IdentifyAndAuthorizePolicy.objects.get(api=api)
    assert list(policy.authorization_servers.all()) == [server]
    assert policy.audiences == ["petstore", "pets"]
    assert policy.required_scopes == ["pets:read"]
    assert policy.forward_claims == {"email": "X-User-Email"}
    event = AuditEvent.objects.get(object_type="identifyandauthorizepolicy")
    assert event.after["authorization_servers"] == [server.pk]
    # The policy tab shows them read-only; the edit form has them back.
    assertRedirects(response, reverse("console:api-policy", args=[api.pk]))
    assertContains(response, '<span class="chip">petstore</span>')
    assertContains(response, "email → X-User-Email")
    assertNotContains(response, 'value="petstore pets"')
    page = console.get(reverse("console:api-policy-edit", args=[api.pk]))
    assertContains(page, 'value="petstore pets"')
    assertContains(page, 'value="X-User-Email"')


def test_an_invalid_policy_shows_each_error_in_place(console, api, server):
    response = console.post(
        reverse("console:policy-save", args=[api.pk]),
        _policy_data(
            audiences="",
            identity_name="Bad Header",
            **{
                "forward_claims-key": ["email", "sub"],
                "forward_claims-value": ["Authorization", ""],
            },
        ),
    )
    assert response.status_code == 200
    form = response.context["policy_form"]
    assert form.errors["audiences"] == [
        "Give at least one audience the tokens must carry. Only an API whose every call is "
        "anonymous (allow anonymous calls, or only public routes) may leave it empty."
    ]
    assert form.errors["forward_claims"] == ["Give a value for sub."]
    assert form.errors["identity_name"] == ["Use letters, digits and '-' only."]
    assert "The access policy was not saved: see the errors below." in _messages(response)
    assert IdentifyAndAuthorizePolicy.objects.exists() is False


def test_the_model_rules_reach_the_policy_form(console, api):
    response = console.post(
        reverse("console:policy-save", args=[api.pk]),
        _policy_data(**{"forward_claims-key": ["email"], "forward_claims-value": ["User-Email"]}),
    )
    assert response.context["policy_form"].errors["forward_claims"] == [
        "Forward claims as X- headers, not 'User-Email'."
    ]


# --- applications and the curl example -------------------------------------------------------


def test_associating_and_removing_an_application(console, api):
    other, _ = create_application(name="Other client")
    response = console.post(
        reverse("console:api-associate", args=[api.pk]), {"application": other.pk}, follow=True
    )
    assert "Other client may now call Petstore v1." in _messages(response)
    assert list(other.apis.all()) == [api]
    page = console.get(reverse("console:api-dissociate-confirm", args=[api.pk, other.pk]))
    assertContains(page, "Remove Other client from Petstore v1?")
    response = console.post(reverse("console:api-dissociate", args=[api.pk, other.pk]), follow=True)
    assert "Other client may no longer call Petstore v1." in _messages(response)
    assert other.apis.exists() is False


def test_associating_an_already_associated_application_is_refused(console, api, application):
    response = console.post(
        reverse("console:api-associate", args=[api.pk]),
        {"application": application.pk},
        follow=True,
    )
    assert "Choose an application that is not associated yet." in _messages(response)


def test_the_detail_page_shows_the_gateway_url_and_a_curl_example(console, ready_api, settings):
    settings.GATEWAY_PUBLIC_URL = (
        "http://gateway.example.com"  # the public origin, not the admin one
    )
    response = console.get(_detail(ready_api))
    assert response.context["gateway_url"] == "http://gateway.example.com/gateway/petstore/v1"
    assert response.context["curl"] == (
        'curl -i -H "Authorization: Bearer $TOKEN" http://gateway.example.com/gateway/petstore/v1/pets'
    )
    assertContains(response, "with aud <code>petstore</code>")


def test_the_curl_example_follows_the_policy_token_location(console, ready_api, settings):
    settings.GATEWAY_PUBLIC_URL = (
        "http://gateway.example.com"  # the public origin, not the admin one
    )
    Route.objects.filter(api=ready_api).update(method="POST", path="/pets/{id}/files/{path+}")
    IdentifyAndAuthorizePolicy.objects.filter(api=ready_api).update(
        identity_source="query", identity_name="access_token"
    )
    curl = console.get(_detail(ready_api)).context["curl"]
    assert curl == (
        'curl -i -X POST "http://gateway.example.com/gateway/petstore/v1/pets/1/files/example'
        '?access_token=$TOKEN"'
    )
    IdentifyAndAuthorizePolicy.objects.filter(api=ready_api).update(
        identity_source="cookie", identity_name="session"
    )
    curl = console.get(_detail(ready_api)).context["curl"]
    assert '--cookie "session=$TOKEN"' in curl


# --- OpenAPI import -------------------------------------------------------------------


OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "Inventory", "version": "2"},
    "servers": [{"url": "https://inventory.internal/api"}],
    "components": {"securitySchemes": {"oauth": {"type": "oauth2", "flows": {}}}},
    "paths": {
        "/items": {"get": {"security": [{"oauth": ["items:read"]}]}},
        "/items/{itemId}": {"delete": {"security": [{"oauth": ["items:write"]}]}},
        "/public": {"get": {"security": []}},
    },
}


def test_importing_a_pasted_document(console, ada):
    response = console.post(
        reverse("console:api-import"), {"document": json.dumps(OPENAPI)}, follow=True
    )
    api = Api.objects.get()
    assertRedirects(response, _detail(api))
    assert (api.name, api.base_path, api.upstream_url) == (
        "Inventory",
        "/inventory/2",
        "https://inventory.internal/api",
    )
    assert sorted(f"{r.method} {r.path}" for r in api.routes.all()) == [
        "DELETE /items/{itemId}",
        "GET /items",
        "GET /public",
    ]
    messages = _messages(response)
    assert messages[0].startswith("Imported Inventory 2 with 3 routes.")
    assert any("marks it public" in message for message in messages[1:])
    assert AuditEvent.objects.get(action="import-openapi").actor == ada


def test_importing_an_uploaded_file_with_overrides(console):
    upload = SimpleUploadedFile("petstore.json", json.dumps(OPENAPI).encode())
    response = console.post(
        reverse("console:api-import"),
        {"upload": upload, "name": "Stock", "base_path": "/stock", "upstream_url": ""},
    )
    api = Api.objects.get()
    assertRedirects(response, _detail(api))
    assert (api.name, api.base_path) == ("Stock", "/stock")


def test_an_invalid_document_is_explained_on_the_form(console):
    response = console.post(reverse("console:api-import"), {"document": "swagger: nope"})
    assert response.status_code == 200
    assert response.context["form"].errors["document"] == [
        "Not an OpenAPI 3.x or Swagger 2.0 document (no openapi/swagger field)."
    ]
    response = console.post(reverse("console:api-import"), {"document": ""})
    assert response.context["form"].errors["document"] == ["Paste the document or upload a file."]
    assert Api.objects.exists() is False


def test_an_import_that_collides_shows_the_model_error(console, api):
    document = dict(OPENAPI, info={"title": "Petstore", "version": "v1"})
    response = console.post(
        reverse("console:api-import"), {"document": json.dumps(document), "base_path": "/petstore"}
    )
    assert "Overlaps the base path /petstore/v1" in response.context["form"].errors["base_path"][0]
    assert Api.objects.count() == 1


# --- issue 12: duplicate base paths, anonymous APIs, missing keys, import size ---------


def test_an_exact_duplicate_base_path_names_the_api_already_there(console, api):
    response = console.post(
        reverse("console:api-create"),
        {
            "name": "Copy",
            "base_path": "petstore/v1/",
            "upstream_url": "https://pets.internal",
            "kind": "REST",
            "connect_timeout": "5",
            "read_timeout": "30",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["base_path"] == [
        "An API is already published at /petstore/v1 (Petstore v1). Choose another base path "
        "(e.g. a new version segment), or edit that API instead."
    ]
    assert response.context["form"].errors.as_data()["base_path"][0].code == "base_path_taken"
    assert Api.objects.count() == 1


def test_a_fully_anonymous_api_may_leave_the_audiences_empty_and_activate(console, api):
    Route.objects.create(api=api, method="GET", path="/status", anonymous=True)
    response = console.post(
        reverse("console:policy-save", args=[api.pk]),
        _policy_data(audiences="", allow_anonymous="on"),
        follow=True,
    )
    assert "Access policy saved." in _messages(response)
    assert IdentifyAndAuthorizePolicy.objects.get(api=api).audiences == []
    response = console.post(reverse("console:api-activate", args=[api.pk]), follow=True)
    assert "Petstore v1 is active: calls to /gateway/petstore/v1 are served." in _messages(response)


def test_only_public_routes_also_allow_empty_audiences(console, api):
    Route.objects.create(api=api, method="GET", path="/status", anonymous=True)
    response = console.post(
        reverse("console:policy-save", args=[api.pk]), _policy_data(audiences=""), follow=True
    )
    assert "Access policy saved." in _messages(response)
    # A route that needs a token would then have no audience to check against.
    response = console.post(
        reverse("console:route-add", args=[api.pk]), {"method": "GET", "path": "/orders"}
    )
    assert response.status_code == 200
    assert (
        response.context["new_route_form"]
        .errors["anonymous"][0]
        .startswith("The API's policy lists no audience")
    )
    assert api.routes.count() == 1


def test_activation_names_an_issuer_whose_keys_cannot_be_fetched(console, api, idp):
    server = AuthorizationServer.objects.create(name="Dev IdP", issuer=idp.issuer)
    Route.objects.create(api=api, method="GET", path="/pets")
    policy = IdentifyAndAuthorizePolicy.objects.create(api=api, audiences=["petstore"])
    policy.authorization_servers.add(server)
    # The page says so before anyone presses Activate...
    assertContains(console.get(_detail(api)), "were never fetched")
    idp.mode = "error"
    response = console.post(reverse("console:api-activate", args=[api.pk]), follow=True)
    assert "Petstore v1 was not activated: fix the 1 problem listed below." in _messages(response)
    assertContains(response, "The keys of authorization server Dev IdP")
    # ...and activation fetches them itself once the issuer answers.
    idp.mode = "ok"
    response = console.post(reverse("console:api-activate", args=[api.pk]), follow=True)
    assert "Petstore v1 is active: calls to /gateway/petstore/v1 are served." in _messages(response)


def test_an_upload_over_the_import_limit_is_refused_before_it_is_read(console, settings):
    settings.GATEWAY_OPENAPI_MAX_BYTES = 1024
    upload = SimpleUploadedFile("big.yaml", b"openapi: 3.0.0\n" + b"#" * 2000)
    response = console.post(reverse("console:api-import"), {"upload": upload})
    assert response.status_code == 200
    [message] = response.context["form"].errors["upload"]
    assert message.startswith("The document (2,015 bytes) is larger than the import limit of 1 KiB")
    assert Api.objects.exists() is False
