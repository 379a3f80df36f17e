"""Issue 12, finding 1: password guessing on the sign-in pages ends in a lockout.

Five wrong passwords for one username from one address lock that pair out for the
cool-off (GATEWAY_LOGIN_FAILURE_LIMIT, GATEWAY_LOGIN_LOCKOUT_SECONDS): even the right
password is then refused with 429, Retry-After and a page that says when to retry.
"""

import pytest
from django.contrib.auth import authenticate
from django.test import Client
from pytest_django.asserts import assertContains

from tests.accounts.conftest import LOGIN_PAGES, end_cool_off, sign_in, signed_in

PAGES = list(LOGIN_PAGES)


def fail(page: str, times: int, **kwargs) -> list:
    return [sign_in(page, "wrong password", **kwargs)[0] for _ in range(times)]


def assert_locked_out(response, settings) -> int:
    assertContains(response, "Too many sign-in attempts", status_code=429)
    assertContains(response, "Try again in 15 minutes", status_code=429)
    assert response["Cache-Control"] == "no-store"
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= settings.GATEWAY_LOGIN_LOCKOUT_SECONDS
    return retry_after


@pytest.mark.parametrize("page", PAGES)
def test_after_five_wrong_passwords_even_the_right_one_is_refused(page, users, settings):
    failures = fail(page, 5)

    assert [response.status_code for response in failures] == [200, 200, 200, 200, 429]
    response, client = sign_in(page, LOGIN_PAGES[page][2])
    assert_locked_out(response, settings)
    assert signed_in(client) is False


@pytest.mark.parametrize("page", PAGES)
def test_sixty_wrong_passwords_never_get_through(page, users, settings):
    # The attacker's script from the issue: 60 guesses, then the real password.
    for response in fail(page, 60)[5:]:
        assert response.status_code == 429
    response, client = sign_in(page, LOGIN_PAGES[page][2])
    assert response.status_code == 429
    assert signed_in(client) is False


@pytest.mark.parametrize("page", PAGES)
def test_the_lockout_ends_after_the_cool_off(page, users, settings):
    fail(page, 5)

    end_cool_off(settings)

    response, client = sign_in(page, LOGIN_PAGES[page][2])
    assert response.status_code == 302
    assert signed_in(client) is True


def test_refused_attempts_do_not_extend_the_lockout(users, settings):
    first = assert_locked_out(fail("console", 5)[-1], settings)
    for response in fail("console", 3):
        assert assert_locked_out(response, settings) <= first


def test_the_lockout_holds_only_for_that_username_from_that_address(users, settings):
    fail("console", 5, address="203.0.113.7")

    elsewhere, client = sign_in("console", "pw-ada-1", address="198.51.100.2")
    assert elsewhere.status_code == 302
    assert signed_in(client) is True
    # Alice's account from the attacker's address is untouched (the OAuth2 login page).
    other_user, client = sign_in("oauth-login", "pw-alice-1", address="203.0.113.7")
    assert other_user.status_code == 302


def test_the_count_is_shared_by_all_sign_in_pages(users, settings):
    fail("console", 3)
    fail("admin", 2)

    response, _ = sign_in("console", "pw-ada-1")
    assert_locked_out(response, settings)


def test_a_new_user_agent_does_not_reset_the_count(users, settings):
    for number in range(5):
        sign_in("console", "wrong password", HTTP_USER_AGENT=f"agent-{number}")

    response, _ = sign_in("console", "pw-ada-1", HTTP_USER_AGENT="agent-new")
    assert_locked_out(response, settings)


def test_x_forwarded_for_does_not_change_the_address_of_an_untrusted_peer(users, settings):
    for number in range(5):
        sign_in("console", "wrong password", HTTP_X_FORWARDED_FOR=f"192.0.2.{number}")

    response, _ = sign_in("console", "pw-ada-1", HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert_locked_out(response, settings)


def test_behind_a_trusted_proxy_the_forwarded_client_is_locked_out(users, settings):
    settings.GATEWAY_TRUSTED_PROXIES = ["10.0.0.0/8"]
    via_proxy = {"address": "10.0.0.5"}
    fail("console", 5, HTTP_X_FORWARDED_FOR="203.0.113.7", **via_proxy)

    locked, _ = sign_in("console", "pw-ada-1", HTTP_X_FORWARDED_FOR="203.0.113.7", **via_proxy)
    assert_locked_out(locked, settings)
    # Another client behind the same load balancer is someone else.
    other, _ = sign_in("console", "pw-ada-1", HTTP_X_FORWARDED_FOR="198.51.100.2", **via_proxy)
    assert other.status_code == 302


def test_honest_users_who_mistype_a_few_times_still_sign_in_and_start_afresh(users):
    fail("console", 4)
    response, client = sign_in("console", "pw-ada-1")
    assert response.status_code == 302

    # The success cleared the count: four more typos are still not a lockout.
    assert [r.status_code for r in fail("console", 4)] == [200] * 4
    response, client = sign_in("console", "pw-ada-1")
    assert response.status_code == 302
    assert signed_in(client) is True


def test_the_oauth_login_page_locks_out_in_its_own_look(users, settings):
    response = fail("oauth-login", 5)[-1]

    assert_locked_out(response, settings)
    assertContains(response, 'href="/oauth2/login"', status_code=429)
    assert "console" not in response.content.decode().lower()


def test_code_in_this_process_can_check_a_password_without_a_request(ada):
    # Management commands and the shell call authenticate() without a request.
    assert authenticate(username="ada", password="pw-ada-1") == ada
    assert authenticate(username="ada", password="wrong") is None


@pytest.mark.parametrize("page", PAGES)
def test_one_address_trying_many_usernames_is_slowed_down(page, db, settings):
    # Password spraying: one password over many accounts never trips a per-user lockout.
    settings.GATEWAY_LOGIN_ATTEMPTS_PER_ADDRESS = 3
    url = LOGIN_PAGES[page][0]
    spray = Client(REMOTE_ADDR="203.0.113.7")
    statuses = [
        spray.post(url, {"username": f"user{n}", "password": "Summer2026!"}).status_code
        for n in range(4)
    ]

    assert statuses == [200, 200, 200, 429]
    refused = spray.post(url, {"username": "user9", "password": "Summer2026!"})
    assertContains(refused, "Too many sign-in attempts came from your address", status_code=429)
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert spray.get(url).status_code == 200  # the page itself still shows
    other = Client(REMOTE_ADDR="198.51.100.2").post(url, {"username": "user0", "password": "x"})
    assert other.status_code == 200


def test_the_address_limit_for_sign_ins_can_be_switched_off(users, settings):
    settings.GATEWAY_LOGIN_ATTEMPTS_PER_ADDRESS = 0
    for n in range(40):
        Client(REMOTE_ADDR="203.0.113.7").post(
            "/console/login/", {"username": f"user{n}", "password": "x"}
        )

    response, _ = sign_in("console", "pw-ada-1")
    assert response.status_code == 302
