import time

import pytest
import requests

from apis.services import deactivate_api
from proxy.errors import MethodNotAllowed, RouteNotFound
from proxy.routing import RouteConfig, RouteTrie


def route(method: str, path: str) -> RouteConfig:
    return RouteConfig(hash((method, path)), method, path, frozenset(), False)


@pytest.fixture
def trie() -> RouteTrie:
    return RouteTrie(
        [
            route("GET", "/pets"),
            route("GET", "/pets/{id}"),
            route("POST", "/pets/new"),
            route("DELETE", "/pets/{id}"),
            route("ANY", "/files/{path+}"),
            route("GET", "/files/readme"),
        ]
    )


def match(trie: RouteTrie, method: str, path: str) -> str:
    found = trie.match([part for part in path.split("/") if part], method)
    return f"{found.method} {found.path}"


def test_it_prefers_a_literal_segment_over_a_parameter(trie):
    assert match(trie, "POST", "/pets/new") == "POST /pets/new"


def test_it_falls_back_to_a_parameter_when_the_literal_lacks_the_method(trie):
    assert match(trie, "GET", "/pets/new") == "GET /pets/{id}"


def test_a_greedy_parameter_takes_several_segments(trie):
    assert match(trie, "PUT", "/files/a/b/c.txt") == "ANY /files/{path+}"
    assert match(trie, "GET", "/files/readme") == "GET /files/readme"


def test_a_greedy_parameter_needs_at_least_one_segment(trie):
    with pytest.raises(RouteNotFound):
        match(trie, "GET", "/files")


def test_head_is_served_by_a_get_route(trie):
    assert match(trie, "HEAD", "/pets") == "GET /pets"


def test_a_known_path_with_another_method_is_405_listing_the_allowed_ones(trie):
    with pytest.raises(MethodNotAllowed) as caught:
        match(trie, "PATCH", "/pets/7")
    assert caught.value.headers["Allow"] == "DELETE, GET, HEAD"


def test_an_unknown_path_is_404(trie):
    with pytest.raises(RouteNotFound):
        match(trie, "GET", "/owners")


def test_the_gateway_answers_404_for_an_unknown_api(published):
    response = requests.get(f"{published.gateway.url}/gateway/nothing/here", timeout=5)
    assert response.status_code == 404
    assert response.json()["code"] == "api_not_found"


def test_the_gateway_answers_404_for_an_unknown_route(published):
    response = published.get("/owners", published.token())
    assert response.status_code == 404
    assert response.json()["code"] == "route_not_found"


def test_the_gateway_answers_405_for_a_wrong_method(published):
    response = requests.delete(published.url + "/pets", timeout=5)
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response.headers["Allow"] == "GET, HEAD, POST"


@pytest.mark.parametrize("method", ["TRACE", "CONNECT"])
def test_trace_and_connect_are_never_proxied_even_by_an_any_route(published, method):
    response = requests.request(
        method,
        published.url + "/files/a.txt",  # an ANY route
        headers={"Authorization": f"Bearer {published.token()}"},
        timeout=5,
    )
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response.headers["Allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
    assert published.upstream.hits == 0


def test_dot_segments_are_refused(published):
    response = requests.get(published.url + "/pets/%2e%2e/%2e%2e/admin", timeout=5)
    assert response.status_code == 400
    assert published.upstream.hits == 0


def test_a_deactivated_api_is_404_within_a_second(published):
    token = published.token()
    assert published.get("/pets", token).status_code == 200
    deactivate_api(published.api)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        if published.get("/pets", token).status_code == 404:
            break
        time.sleep(0.05)
    response = published.get("/pets", token)
    assert response.status_code == 404
    assert response.json()["code"] == "api_not_found"


def test_a_public_route_needs_no_token(published):
    response = published.get("/health")
    assert response.status_code == 200
    assert "x-gateway-application" not in published.upstream.last["headers"]


def test_a_public_route_still_rejects_an_invalid_token(published):
    response = published.get("/health", "garbage")
    assert response.status_code == 401
