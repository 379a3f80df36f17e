"""Applications in the console: claims as rows, the secret shown once, suspend/resume,
secret rotation, deletion, and test tokens from the internal issuer."""

import json

import pytest
from django.contrib.auth.hashers import check_password
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from apis.models import IdentifyAndAuthorizePolicy
from apis.services import activate_api
from applications.models import Application
from applications.services import create_application, update_application
from authservers.models import AuthorizationServer
from core.models import AuditEvent
from proxy.tokens import decode_segment


def _detail(application) -> str:
    return reverse("console:application-detail", args=[application.pk])


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _form(name="Petstore client", claims=(("client_id", "petstore-client"),), apis=(), **extra):
    data = {
        "name": name,
        "description": "",
        "identifying_claims-key": [key for key, _ in claims] + [""],
        "identifying_claims-value": [value for _, value in claims] + [""],
        "custom_claims-key": [""],
        "custom_claims-value": [""],
        "apis": [api.pk for api in apis],
        # What the browser sends for a new application's preselected OAuth2 settings.
        "client_type": "confidential",
        "grant_types": ["client_credentials", "refresh_token", "password"],
        "redirect_uris": "",
        "allowed_scopes": "",
    }
    data.update(extra)
    return data


def test_registering_shows_the_secret_exactly_once(console, api, ada):
    response = console.post(
        reverse("console:application-create"),
        _form(
            apis=[api],
            **{"custom_claims-key": ["tenant"], "custom_claims-value": ["acme"]},
        ),
        follow=True,
    )
    application = Application.objects.get()
    assertRedirects(response, _detail(application))
    assert "Petstore client registered." in _messages(response)
    assert application.identifying_claims == {"client_id": "petstore-client"}
    assert application.custom_claims == {"tenant": "acme"}
    assert list(application.apis.all()) == [api]
    secret = response.context["new_secret"]
    assert len(secret) >= 30
    assert check_password(secret, application.oauth_client.client_secret) is True
    assertContains(response, secret)
    assertContains(response, application.client_id)
    again = console.get(_detail(application))
    assert again.context["new_secret"] is None
    assertNotContains(again, secret)
    event = AuditEvent.objects.get(object_type="application", action="create")
    assert event.actor == ada
    assert secret not in json.dumps(event.after)


def test_the_create_form_preselects_the_api_it_came_from(console, api):
    response = console.get(reverse("console:application-create"), {"api": api.pk})
    assert response.context["form"].initial["apis"] == [str(api.pk)]


def test_claim_rows_are_validated_in_place(console):
    response = console.post(
        reverse("console:application-create"),
        _form(claims=[("client_id", ""), ("bad claim", "x"), ("", "orphan")]),
    )
    assert response.status_code == 200
    assert response.context["form"].errors["identifying_claims"] == [
        "Give a value for client_id.",
        "Give a name for the value 'orphan'.",
    ]
    # The rows come back as typed, so nothing has to be re-entered.
    assertContains(response, 'value="orphan"')
    assert Application.objects.exists() is False


def test_the_model_rules_reach_the_claim_rows(console):
    response = console.post(
        reverse("console:application-create"), _form(claims=[("bad claim", "x")])
    )
    assert response.context["form"].errors["identifying_claims"] == [
        "'bad claim' is not a valid claim name."
    ]


def test_a_duplicate_name_is_refused(console, application):
    response = console.post(reverse("console:application-create"), _form())
    assert "name" in response.context["form"].errors
    assert Application.objects.count() == 1


def test_a_blank_row_can_be_fetched_for_htmx(console):
    response = console.get(
        reverse("console:key-value-row"), {"name": "identifying_claims", "key_label": "Claim"}
    )
    html = response.content.decode()
    assert 'name="identifying_claims-key"' in html
    assert 'aria-label="Claim"' in html
    bad = console.get(reverse("console:key-value-row"), {"name": '"><script>'})
    assert bad.status_code == 400


def test_editing_replaces_the_claims_and_apis(console, application, api):
    response = console.post(
        reverse("console:application-edit", args=[application.pk]),
        _form(name="Renamed", claims=[("sub", "svc-7"), ("iss", "https://idp")], apis=[]),
    )
    assertRedirects(response, _detail(application))
    application.refresh_from_db()
    assert application.name == "Renamed"
    assert application.identifying_claims == {"sub": "svc-7", "iss": "https://idp"}
    assert application.apis.exists() is False
    assert application.oauth_client.name == "Renamed"
    event = AuditEvent.objects.get(object_type="application", action="update")
    assert event.before["identifying_claims"] == {"client_id": "petstore-client"}


def test_the_edit_form_shows_the_current_rows(console, application):
    response = console.get(reverse("console:application-edit", args=[application.pk]))
    assertContains(response, 'value="client_id"')
    assertContains(response, 'value="petstore-client"')
    api_boxes = [line for line in response.content.decode().splitlines() if 'name="apis"' in line]
    assert sum("checked" in line for line in api_boxes) == 1  # the associated API


def test_suspending_is_confirmed_and_resuming_is_direct(console, application):
    page = console.get(reverse("console:application-suspend-confirm", args=[application.pk]))
    assertContains(page, "Suspend Petstore client?")
    response = console.post(
        reverse("console:application-suspend", args=[application.pk]), follow=True
    )
    assert "Petstore client is suspended." in _messages(response)
    assertContains(response, "Suspended: every API refuses its tokens")
    application.refresh_from_db()
    assert application.status == "suspended"
    response = console.post(
        reverse("console:application-resume", args=[application.pk]), follow=True
    )
    assert "Petstore client is active again." in _messages(response)
    application.refresh_from_db()
    assert application.status == "active"


def test_rotating_the_secret_shows_the_new_one_once(console, application):
    old_hash = application.oauth_client.client_secret
    page = console.get(reverse("console:application-rotate-confirm", args=[application.pk]))
    assertContains(page, "The current secret stops working at once")
    response = console.post(
        reverse("console:application-rotate", args=[application.pk]), follow=True
    )
    assert "New client secret generated; the old one no longer works." in _messages(response)
    secret = response.context["new_secret"]
    application.oauth_client.refresh_from_db()
    assert application.oauth_client.client_secret != old_hash
    assert check_password(secret, application.oauth_client.client_secret) is True
    assert console.get(_detail(application)).context["new_secret"] is None


def test_another_applications_secret_is_never_shown(console, application):
    other, _ = create_application(name="Other")
    console.post(reverse("console:application-rotate", args=[application.pk]))
    assert console.get(_detail(other)).context["new_secret"] is None
    assert console.get(_detail(application)).context["new_secret"] is not None


def test_deleting_is_confirmed_and_removes_the_oauth_client(console, application):
    client = application.oauth_client
    page = console.get(reverse("console:application-delete-confirm", args=[application.pk]))
    assertContains(page, "Its OAuth2 client (client id and secret) is deleted too.")
    response = console.post(
        reverse("console:application-delete", args=[application.pk]), follow=True
    )
    assertRedirects(response, reverse("console:application-list"))
    assert Application.objects.exists() is False
    assert type(client).objects.filter(pk=client.pk).exists() is False


def test_the_list_searches_by_name_and_client_id_and_filters_by_status(console, application):
    create_application(name="Billing")
    response = console.get(reverse("console:application-list"), {"q": application.client_id})
    assertContains(response, "Petstore client")
    assertNotContains(response, "Billing")
    response = console.get(reverse("console:application-list"), {"status": "suspended"})
    assertContains(response, "No application matches these filters")


def test_the_empty_list_explains_applications(console):
    assertContains(console.get(reverse("console:application-list")), "No applications yet")


# --- test tokens from the internal issuer -------------------------------------------------


@pytest.fixture
def internal(db):
    return AuthorizationServer.objects.create(
        name="Gatekeep",
        kind="internal",
        issuer="http://127.0.0.1:8000",
        required_typ="at+jwt",
        default_audience="petstore",
    )


def _claims(token: str) -> dict:
    return json.loads(decode_segment(token.split(".")[1]))


def test_no_test_token_form_without_an_internal_issuer(console, application):
    assert console.get(_detail(application)).context["test_token_form"] is None


def test_a_test_token_is_signed_for_the_application_and_shown_once(console, application, internal):
    response = console.post(
        reverse("console:application-test-token", args=[application.pk]),
        {"server": internal.pk, "audience": "", "scope": "pets:read"},
        follow=True,
    )
    token = response.context["test_token"]
    claims = _claims(token)
    assert claims["iss"] == "http://127.0.0.1:8000"
    assert claims["client_id"] == application.client_id
    assert claims["aud"] == "petstore"
    assert claims["scope"] == "pets:read"
    assert "Test token issued by Gatekeep." in _messages(response)
    assert console.get(_detail(application)).context["test_token"] is None
    event = AuditEvent.objects.get(action="issue-test-token")
    assert token not in json.dumps(event.after)


def test_a_test_token_for_a_foreign_audience_is_refused_in_place(console, application, internal):
    response = console.post(
        reverse("console:application-test-token", args=[application.pk]),
        {"server": internal.pk, "audience": "billing", "scope": ""},
    )
    assert response.status_code == 200
    assert response.context["test_token_form"].errors["audience"] == [
        "Petstore client may not request the audience 'billing'."
    ]


def test_a_test_token_passes_the_inspector_for_an_api_trusting_the_issuer(
    console, application, internal, api
):
    from apis.models import Route

    Route.objects.create(api=api, method="GET", path="/pets")
    policy = IdentifyAndAuthorizePolicy.objects.create(api=api, audiences=["petstore"])
    policy.authorization_servers.add(internal)
    assert activate_api(api) == []
    response = console.post(
        reverse("console:application-test-token", args=[application.pk]),
        {"server": internal.pk, "audience": "petstore", "scope": ""},
        follow=True,
    )
    token = response.context["test_token"]
    # The "Inspect a call" form on the page posts the token to the inspector.
    assertContains(response, f'action="{reverse("console:inspector")}"')
    inspection = console.post(
        reverse("console:inspector"),
        {"token": token, "api": api.pk, "method": "GET", "path": "/pets"},
    ).context["inspection"]
    assert inspection.allowed is True, inspection.trace
    assert inspection.application == "Petstore client"


# --- pages that show a secret once are never cached (issue 12) ----------------------------


def assert_never_stored(response) -> None:
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "no-cache", "private"} <= cache_control, response["Cache-Control"]
    assert response["Pragma"] == "no-cache"


def test_the_page_with_a_new_secret_is_never_stored(console, api):
    response = console.post(reverse("console:application-create"), _form(apis=[api]), follow=True)
    assert response.context["new_secret"]
    assert_never_stored(response)


def test_the_page_with_a_rotated_secret_is_never_stored(console, application):
    url = reverse("console:application-rotate", args=[application.pk])
    response = console.post(url, follow=True)
    assert response.context["new_secret"]
    assert_never_stored(response)
    # Later views show no secret and keep the ordinary caching rules.
    assert not console.get(_detail(application)).has_header("Pragma")


def test_the_page_with_a_test_token_is_never_stored(console, application, internal):
    response = console.post(
        reverse("console:application-test-token", args=[application.pk]),
        {"server": internal.pk, "audience": "", "scope": ""},
        follow=True,
    )
    assert response.context["test_token"]
    assert_never_stored(response)


# --- OAuth2 settings (issue 20) ---------------------------------------------------------

OAUTH_FORM = {
    "client_type": "confidential",
    "grant_types": ["authorization_code", "refresh_token"],
    "redirect_uris": "https://app.example/callback\r\n\r\n  http://127.0.0.1:8765/cb  \r\n",
    "allowed_scopes": "pets:read, pets:write",
}


def test_the_oauth_settings_round_trip_through_the_forms(console, api):
    response = console.post(
        reverse("console:application-create"), _form(apis=[api], **OAUTH_FORM), follow=True
    )

    application = Application.objects.get()
    assertRedirects(response, _detail(application))
    assert application.client_type == "confidential"
    assert application.grant_types == ["authorization_code", "refresh_token"]
    assert application.redirect_uris == ["https://app.example/callback", "http://127.0.0.1:8765/cb"]
    assert application.allowed_scopes == ["pets:read", "pets:write"]
    assert application.oauth_client.redirect_uris.split() == application.redirect_uris
    # The detail page shows them.
    for text in ("authorization_code", "https://app.example/callback", "pets:write"):
        assertContains(response, text)
    # The edit form shows them as typed: one URI per line, the choices checked.
    edit = console.get(reverse("console:application-edit", args=[application.pk]))
    html = edit.content.decode()
    assert "https://app.example/callback\nhttp://127.0.0.1:8765/cb</textarea>" in html
    assert 'value="pets:read pets:write"' in html
    checked = [line for line in html.splitlines() if "checked" in line]
    assert any('value="authorization_code"' in line for line in checked)
    assert not any('value="client_credentials"' in line for line in checked)
    assert any('name="client_type" value="confidential"' in line for line in checked)

    # Editing changes them, and the DOT client follows.
    console.post(
        reverse("console:application-edit", args=[application.pk]),
        _form(
            apis=[api],
            client_type="public",
            grant_types=["authorization_code"],
            redirect_uris="https://spa.example/cb",
            allowed_scopes="",
        ),
    )
    application.refresh_from_db()
    assert application.client_type == "public"
    assert application.grant_types == ["authorization_code"]
    assert application.redirect_uris == ["https://spa.example/cb"]
    assert application.allowed_scopes == []
    assert application.oauth_client.client_type == "public"
    assert application.oauth_client.redirect_uris == "https://spa.example/cb"


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"redirect_uris": "http://app.example/cb"}, "redirect_uris", "use https"),
        ({"redirect_uris": "https://app.example/cb#x"}, "redirect_uris", "fragment"),
        ({"redirect_uris": "https://*.example/cb"}, "redirect_uris", "wildcards"),
        (
            {"grant_types": ["authorization_code"], "redirect_uris": ""},
            "redirect_uris",
            "needs at least one redirect URI",
        ),
        (
            {"client_type": "public", "grant_types": ["client_credentials"]},
            "grant_types",
            "cannot use client_credentials",
        ),
    ],
)
def test_oauth_rules_are_shown_on_their_fields(console, extra, field, message):
    response = console.post(reverse("console:application-create"), _form(**extra))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert any(message in error for error in errors[field]), errors
    assert not Application.objects.exists()


def test_a_public_client_gets_no_secret_and_cannot_rotate_one(console):
    response = console.post(
        reverse("console:application-create"),
        _form(
            client_type="public",
            grant_types=["authorization_code", "refresh_token"],
            redirect_uris="http://localhost:3000/cb",
        ),
        follow=True,
    )

    application = Application.objects.get()
    assert application.is_public
    assert response.context["new_secret"] is None
    assertContains(response, "a public client authenticates with its client id and PKCE")
    assertNotContains(
        response, reverse("console:application-rotate-confirm", args=[application.pk])
    )
    rotated = console.post(
        reverse("console:application-rotate", args=[application.pk]), follow=True
    )
    assert any("public client has no client secret" in m for m in _messages(rotated))
    assert not AuditEvent.objects.filter(action="rotate-secret").exists()


def test_a_test_token_keeps_to_the_allowed_scopes(console, application, internal):
    update_application(application, allowed_scopes=["pets:read"])

    response = console.post(
        reverse("console:application-test-token", args=[application.pk]),
        {"server": internal.pk, "audience": "", "scope": "pets:read pets:write"},
    )

    assert response.status_code == 200
    assert "pets:write" in response.context["test_token_form"].errors["scope"][0]
    assert not AuditEvent.objects.filter(action="issue-test-token").exists()
