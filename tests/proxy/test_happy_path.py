import pytest
import requests


def test_it_forwards_a_call_with_a_valid_rs256_token(published):
    response = published.get("/pets?limit=5", published.token(email="a@example.com"))
    assert response.status_code == 200, response.text
    seen = published.upstream.last
    assert seen["method"] == "GET"
    assert seen["path"] == "/backend/pets?limit=5"
    assert seen["headers"]["x-gateway-application"] == "Petstore client"
    assert seen["headers"]["x-gateway-subject"] == "user-42"
    assert seen["headers"]["x-user-email"] == "a@example.com"
    assert "authorization" not in seen["headers"]
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert seen["headers"]["x-request-id"] == response.headers["X-Request-Id"]


def test_it_answers_401_without_a_token(published):
    response = published.get("/pets")
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "missing_token"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="gatekeep"'
    assert published.upstream.hits == 0


@pytest.mark.parametrize("prefix", ["Bearer ", "bearer ", "BEARER  ", ""])
def test_it_accepts_the_token_with_or_without_bearer(published, prefix):
    response = requests.get(
        published.url + "/pets",
        headers={"Authorization": prefix + published.token()},
        timeout=10,
    )
    assert response.status_code == 200, response.text
