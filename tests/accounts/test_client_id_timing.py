"""Issue 12, finding 3: whether a client_id exists cannot be told from the answer time.

A known client_id with a wrong secret costs a password-hasher run (PBKDF2); an unknown
one used to answer at once. Both now run the same hasher. The hasher here is PBKDF2
with fewer iterations (~90 ms instead of ~470 ms) to keep the test fast, yet far
slower than the rest of the request, so a missing hash run stands out.
"""

import base64
import statistics
import time

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client

from tests.accounts.conftest import TOKEN_URL, oauth_error

TRIES = 5


class TimingTestHasher(PBKDF2PasswordHasher):
    iterations = 150_000


@pytest.fixture
def slow_hashing(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.TimingTestHasher"]
    # Only the timing is under test here, not the rate limits.
    settings.GATEWAY_TOKEN_REQUESTS_PER_ADDRESS = 0
    settings.GATEWAY_TOKEN_CLIENT_FAILURES = 0


def wrong_secret_request(client_id: str, transport: str):
    data = {"grant_type": "client_credentials"}
    if transport == "basic":
        credentials = base64.b64encode(f"{client_id}:wrong-secret".encode()).decode()
        return Client().post(TOKEN_URL, data, HTTP_AUTHORIZATION=f"Basic {credentials}")
    return Client().post(TOKEN_URL, {**data, "client_id": client_id, "client_secret": "wrong"})


def seconds(client_id: str, transport: str) -> float:
    start = time.perf_counter()
    response = wrong_secret_request(client_id, transport)
    elapsed = time.perf_counter() - start
    oauth_error(response, 401, "invalid_client")
    return elapsed


@pytest.mark.parametrize("transport", ["basic", "body"])
def test_an_unknown_client_id_answers_as_slowly_as_a_known_one(slow_hashing, issuer, transport):
    known, unknown = issuer.client_id, "no-such-client-0123456789"
    seconds(known, transport), seconds(unknown, transport)  # warm up both paths
    known_times, unknown_times = [], []
    for _ in range(TRIES):  # interleaved, so a busy moment slows both alike
        known_times.append(seconds(known, transport))
        unknown_times.append(seconds(unknown, transport))

    known_median = statistics.median(known_times)
    unknown_median = statistics.median(unknown_times)

    assert unknown_median >= 0.5 * known_median, (known_times, unknown_times)
    assert unknown_median <= 2 * known_median, (known_times, unknown_times)


def test_both_answers_are_the_same_invalid_client(slow_hashing, issuer):
    known = wrong_secret_request(issuer.client_id, "basic")
    unknown = wrong_secret_request("no-such-client", "basic")

    assert oauth_error(known, 401, "invalid_client") == oauth_error(unknown, 401, "invalid_client")
    assert known["WWW-Authenticate"] == unknown["WWW-Authenticate"]
