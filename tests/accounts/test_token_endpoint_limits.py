"""Issue 12, findings 1 and 2: guessing at /oauth2/token is locked out and rate limited.

The password grant shares the sign-in pages' lockout per (username, address). On top,
every address has a request budget per window and every client_id a budget of failed
client authentications; over either, the answer is 429 with Retry-After and OAuth2 JSON.
"""

from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client

from tests.accounts.conftest import ALICE_PASSWORD, end_cool_off, oauth_error


def test_honest_clients_and_users_get_tokens(issuer):
    client = issuer.post(grant_type="client_credentials")
    assert client.status_code == 200, client.content
    user = issuer.password_grant()
    assert user.status_code == 200, user.content
    assert user.json()["refresh_token"]


def test_a_wrong_user_password_is_still_invalid_grant(issuer):
    oauth_error(issuer.password_grant("wrong"), 400, "invalid_grant")


def test_after_five_wrong_passwords_the_grant_is_locked_out_with_retry_after(issuer, settings):
    statuses = [issuer.password_grant("wrong").status_code for _ in range(5)]
    assert statuses == [400, 400, 400, 400, 429]

    response = issuer.password_grant()  # the right password

    body = oauth_error(response, 429, "invalid_grant")
    assert "retry in" in body["error_description"]
    assert 0 < int(response["Retry-After"]) <= settings.GATEWAY_LOGIN_LOCKOUT_SECONDS
    assert "access_token" not in body


def test_sixty_wrong_passwords_then_the_right_one_get_no_token(issuer, settings):
    settings.GATEWAY_TOKEN_REQUESTS_PER_ADDRESS = 0  # the lockout alone, not the rate limit
    for _ in range(60):
        assert issuer.password_grant("wrong").status_code in {400, 429}

    oauth_error(issuer.password_grant(), 429, "invalid_grant")


def test_the_grant_lockout_ends_after_the_cool_off(issuer, settings):
    for _ in range(5):
        issuer.password_grant("wrong")

    end_cool_off(settings)

    assert issuer.password_grant().status_code == 200


def test_a_successful_grant_clears_earlier_failures(issuer):
    for _ in range(4):
        issuer.password_grant("wrong")
    assert issuer.password_grant().status_code == 200

    assert [issuer.password_grant("wrong").status_code for _ in range(4)] == [400] * 4
    assert issuer.password_grant().status_code == 200


def test_a_grant_lockout_holds_only_for_that_address(issuer):
    for _ in range(5):
        issuer.password_grant("wrong", address="203.0.113.7")

    assert issuer.password_grant(address="198.51.100.2").status_code == 200


def test_an_inactive_user_is_invalid_grant_like_a_wrong_password(issuer):
    get_user_model().objects.filter(username="alice").update(is_active=False)

    oauth_error(issuer.password_grant(ALICE_PASSWORD), 400, "invalid_grant")


def test_an_address_gets_only_its_token_requests_per_window(issuer, settings):
    settings.GATEWAY_TOKEN_REQUESTS_PER_ADDRESS = 3

    statuses = [issuer.post(grant_type="client_credentials").status_code for _ in range(3)]
    refused = issuer.post(grant_type="client_credentials")

    assert statuses == [200, 200, 200]
    body = oauth_error(refused, 429, "too_many_requests")
    assert body["error_description"].startswith("Too many token requests from this address")
    assert 0 < int(refused["Retry-After"]) <= settings.GATEWAY_TOKEN_RATE_WINDOW_SECONDS
    # Other addresses keep their own budget.
    assert issuer.post(grant_type="client_credentials", address="198.51.100.2").status_code == 200


def test_even_malformed_requests_count_against_the_address(issuer, settings):
    settings.GATEWAY_TOKEN_REQUESTS_PER_ADDRESS = 2
    issuer.post()  # no grant_type
    issuer.post(grant_type="implicit")

    oauth_error(issuer.post(grant_type="client_credentials"), 429, "too_many_requests")


def test_the_address_budget_comes_back_with_the_next_window(issuer, settings, clock):
    settings.GATEWAY_TOKEN_REQUESTS_PER_ADDRESS = 1
    settings.GATEWAY_TOKEN_RATE_WINDOW_SECONDS = 60
    clock.seconds -= clock.seconds % 60  # windows are fixed: the first second of one
    assert issuer.post(grant_type="client_credentials").status_code == 200
    clock.advance(59)
    refused = issuer.post(grant_type="client_credentials")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"

    clock.advance(1)

    assert issuer.post(grant_type="client_credentials").status_code == 200


def test_a_client_id_is_refused_after_too_many_failed_authentications(issuer, settings):
    settings.GATEWAY_TOKEN_CLIENT_FAILURES = 3
    for _ in range(3):
        wrong = issuer.post(auth=(issuer.client_id, "wrong"), grant_type="client_credentials")
        oauth_error(wrong, 401, "invalid_client")

    # Refused before the secret is even checked: the right one gets no answer either.
    refused = issuer.post(grant_type="client_credentials", address="198.51.100.2")

    body = oauth_error(refused, 429, "too_many_requests")
    assert body["error_description"].startswith("Too many failed authentications for this client")
    assert 0 < int(refused["Retry-After"]) <= settings.GATEWAY_TOKEN_RATE_WINDOW_SECONDS


def test_unknown_client_ids_and_body_credentials_are_counted_too(issuer, settings):
    settings.GATEWAY_TOKEN_CLIENT_FAILURES = 2
    for _ in range(2):
        issuer.post(auth=("no-such-client", "x"), grant_type="client_credentials")
    oauth_error(
        issuer.post(auth=("no-such-client", "x"), grant_type="client_credentials"),
        429,
        "too_many_requests",
    )

    body_auth = {"grant_type": "client_credentials", "client_id": issuer.client_id}
    for _ in range(2):
        Client().post("/oauth2/token", {**body_auth, "client_secret": "wrong"})
    refused = Client().post("/oauth2/token", {**body_auth, "client_secret": issuer.secret})
    oauth_error(refused, 429, "too_many_requests")


def test_successful_client_authentications_do_not_count_as_failures(issuer, settings):
    settings.GATEWAY_TOKEN_CLIENT_FAILURES = 2

    statuses = [issuer.post(grant_type="client_credentials").status_code for _ in range(5)]

    assert statuses == [200] * 5


def test_an_address_limit_of_zero_is_off(issuer, settings):
    settings.GATEWAY_TOKEN_REQUESTS_PER_ADDRESS = 0

    statuses = {issuer.post(grant_type="client_credentials").status_code for _ in range(70)}

    assert statuses == {200}


def test_a_client_failure_limit_of_zero_is_off(issuer, settings):
    settings.GATEWAY_TOKEN_CLIENT_FAILURES = 0
    for _ in range(15):
        issuer.post(auth=(issuer.client_id, "wrong"), grant_type="client_credentials")

    assert issuer.post(grant_type="client_credentials").status_code == 200


def test_the_failure_record_keeps_no_secret_of_the_request(issuer):
    body = {
        "grant_type": "password",
        "username": "alice",
        "password": "a-wrong-password",
        "client_id": issuer.client_id,
        "client_secret": issuer.secret,
    }
    Client().post("/oauth2/token", body)

    (attempt,) = AccessAttempt.objects.all()
    assert attempt.path_info == "/oauth2/token"
    assert attempt.failures_since_start == 1
    assert "a-wrong-password" not in attempt.post_data
    assert issuer.secret not in attempt.post_data


def test_an_overlong_or_odd_username_is_an_ordinary_failure(issuer):
    for username in ["x" * 5000, "nul\x00byte", "ünïcödé"]:
        response = issuer.post(grant_type="password", username=username, password="wrong")
        oauth_error(response, 400, "invalid_grant")
