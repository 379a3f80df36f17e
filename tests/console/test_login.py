"""Signing in and out of the console with Django auth; only staff get in."""

from django.conf import settings
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertRedirects

from console.access import NOT_STAFF_MESSAGE

LOGIN = "/console/login/"


def test_the_login_page_has_a_csrf_protected_form(anonymous):
    response = anonymous.get(LOGIN)
    assertContains(response, "Sign in to the console")
    assertContains(response, 'name="csrfmiddlewaretoken"')


def test_staff_sign_in_and_land_on_the_dashboard(ada):
    client = Client(enforce_csrf_checks=True)
    client.get(LOGIN)
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    response = client.post(
        LOGIN, {"username": "ada", "password": "pw-ada-1", "csrfmiddlewaretoken": token}
    )
    assertRedirects(response, reverse("console:dashboard"))
    assertContains(client.get(reverse("console:dashboard")), "Signed in as")


def test_sign_in_returns_to_the_requested_page(ada, anonymous):
    response = anonymous.post(
        LOGIN, {"username": "ada", "password": "pw-ada-1", "next": "/console/audit/"}
    )
    assertRedirects(response, "/console/audit/")


def test_a_wrong_password_is_refused_in_place(ada, anonymous):
    response = anonymous.post(LOGIN, {"username": "ada", "password": "nope"})
    assertContains(response, "Please enter a correct username and password")
    assert "_auth_user_id" not in anonymous.session


def test_non_staff_users_are_refused_with_a_clear_reason(member, anonymous):
    response = anonymous.post(LOGIN, {"username": "bob", "password": "pw-bob-1"})
    assertContains(response, NOT_STAFF_MESSAGE)
    assert "_auth_user_id" not in anonymous.session


def test_a_signed_in_non_staff_user_sees_a_refusal_page_with_a_way_out(member):
    response = member.get(reverse("console:api-list"))
    assertContains(response, "No access to the console", status_code=403)
    assertContains(response, reverse("console:logout"), status_code=403)


def test_signed_in_staff_skip_the_login_page(console):
    assertRedirects(console.get(LOGIN), reverse("console:dashboard"))


def test_sign_out_is_a_post_and_ends_the_session(console):
    assert console.get(reverse("console:logout")).status_code == 405
    response = console.post(reverse("console:logout"))
    assertRedirects(response, LOGIN)
    assert console.get(reverse("console:dashboard")).status_code == 302
