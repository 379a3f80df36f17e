"""Attack catalogue, round 2 (issue 12): what an outside attacker found in the proxy.

Routes `GET /{path+}` (anonymous) and `GET /admin/{path+}` (scope `admin`), as in front of a
servlet container: every spelling a server could read as /admin/… must be refused, or
reach the upstream only in the exact form the route table matched.
"""

import pytest
import requests

from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.services import activate_api


@pytest.fixture
def servlet_api(published):
    api = Api.objects.create(
        name="Servlets",
        version="v1",
        base_path="/app/v1",
        upstream_url=f"{published.upstream.url}/ctx",
        read_timeout=4.0,
        connect_timeout=1.0,
    )
    Route.objects.create(api=api, method="GET", path="/{path+}", anonymous=True)
    Route.objects.create(api=api, method="GET", path="/admin/{path+}", required_scopes=["admin"])
    policy = IdentifyAndAuthorizePolicy.objects.create(api=api, audiences=["petstore"])
    policy.authorization_servers.add(published.server)
    published.application.apis.add(api)
    assert activate_api(api) == []
    return f"{published.gateway.url}/gateway/app/v1"


def raw_get(url_base: str, raw_path: str, **kwargs) -> requests.Response:
    """Send the path exactly as written (requests would normalise some of it)."""
    request = requests.Request("GET", url_base + "/placeholder", **kwargs).prepare()
    request.url = url_base + raw_path
    with requests.Session() as session:
        return session.send(request, timeout=10)


AMBIGUOUS = [
    "/admin;/users",
    "/admin;jsessionid=x/users",
    "/admin%3b/users",
    "/admin%3B/users",
    "/x/..;/admin/users",
    "/x/.;/admin/users",
    "/admin%5cusers",
    "/admin%5C..%5Cusers",
    "/x/%2e%2e/admin/users",
    "/admin./users",
    "/admin%20/users",
    "/admin%09/users",
    "/admin%00/users",
    "/admin%ff/users",
    "/%252e%252e/admin/users",
    "/Admin/users",
    "/ADMIN/users",
    "/admin%2fusers",
    "/x%2F..%2Fadmin/users",
]


@pytest.mark.parametrize("path", AMBIGUOUS)
def test_a_path_some_server_reads_as_admin_is_refused(published, servlet_api, path):
    response = raw_get(servlet_api, path)
    assert response.status_code == 400, (path, response.status_code, response.text)
    assert response.json()["code"] == "invalid_request"
    assert published.upstream.hits == 0


def test_the_canonical_paths_still_work_exactly_as_matched(published, servlet_api):
    public = raw_get(servlet_api, "/home//index.html")
    assert public.status_code == 200
    assert published.upstream.last["path"] == "/ctx/home/index.html"
    refused = raw_get(servlet_api, "/admin/users")
    assert refused.status_code == 401
    admin_token = published.token(scope="admin")
    allowed = raw_get(
        servlet_api, "/admin/users", headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert allowed.status_code == 200
    assert published.upstream.last["path"] == "/ctx/admin/users"
    spaced = raw_get(servlet_api, "/files/my%20report.pdf")
    assert spaced.status_code == 200
    assert published.upstream.last["path"] == "/ctx/files/my%20report.pdf"


@pytest.mark.parametrize(
    "header",
    [
        "X-Original-URL",
        "X-Rewrite-URL",
        "X-Original-URI",
        "X-HTTP-Method-Override",
        "X-HTTP-Method",
        "X-Method-Override",
    ],
)
def test_override_headers_never_reach_the_upstream(published, servlet_api, header):
    response = raw_get(servlet_api, "/home", headers={header: "/admin/users"})
    assert response.status_code == 200
    assert header.lower() not in published.upstream.last["headers"]


def test_a_suspended_application_is_not_named_on_an_anonymous_route(published, servlet_api):
    from applications.choices import ApplicationStatus

    published.application.status = ApplicationStatus.SUSPENDED
    published.application.save()
    published.gateway_wait_for_reload()
    response = raw_get(
        servlet_api, "/home", headers={"Authorization": f"Bearer {published.token()}"}
    )
    assert response.status_code == 200
    assert "x-gateway-application" not in published.upstream.last["headers"]


def test_a_query_token_is_stripped_however_its_name_is_spelled(published):
    policy = published.api.policy
    policy.identity_source, policy.identity_name = "query", "gk-token"
    policy.forward_authorization = False
    policy.save()
    published.gateway_wait_for_reload()
    token = published.token()
    for spelling in ("gk-token", "gk%2Dtoken", "gk%2dtoken"):
        response = raw_get(published.url, f"/pets?{spelling}={token}&page=2")
        assert response.status_code == 200, (spelling, response.text)
        forwarded = published.upstream.last["path"]
        assert token not in forwarded, spelling
        assert forwarded.endswith("?page=2")


def test_a_cookie_token_is_not_forwarded_when_authorization_is_not(published):
    policy = published.api.policy
    policy.identity_source, policy.identity_name = "cookie", "gk_token"
    policy.forward_authorization = False
    policy.save()
    published.gateway_wait_for_reload()
    token = published.token()
    response = published.get("/pets", headers={"Cookie": f"gk_token={token}; theme=dark"})
    assert response.status_code == 200
    assert published.upstream.last["headers"]["cookie"] == "theme=dark"


@pytest.mark.parametrize(
    "host", ["a b", "<script>", "x" * 300, "evil.example/path", "evil.example@x"]
)
def test_a_malformed_host_is_not_forwarded_as_x_forwarded_host(published, host):
    import socket

    token = published.token()
    path = f"/gateway{published.api.base_path}/pets"
    raw = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("latin-1")
    with socket.create_connection(("127.0.0.1", published.gateway.port), timeout=5) as sock:
        sock.sendall(raw)
        answer = sock.recv(65536)
    if answer.startswith(b"HTTP/1.1 200"):
        assert "x-forwarded-host" not in published.upstream.last["headers"]
    else:
        assert answer.startswith(b"HTTP/1.1 400"), answer[:100]


def test_a_well_formed_host_is_forwarded(published):
    response = published.get("/pets", published.token(), headers={"Host": "api.example.com"})
    assert response.status_code == 200
    assert published.upstream.last["headers"]["x-forwarded-host"] == "api.example.com"


def test_an_upstream_pointing_back_at_the_gateway_is_a_508_not_a_loop(published):
    from django.conf import settings

    settings_override = {"GATEWAY_OUTBOUND_ALLOW_LOOPBACK": True}
    assert (
        settings_override["GATEWAY_OUTBOUND_ALLOW_LOOPBACK"]
        == settings.GATEWAY_OUTBOUND_ALLOW_LOOPBACK
    )
    # Stored directly: the admin side refuses the gateway's own listeners as an upstream.
    Api.objects.filter(pk=published.api.pk).update(
        upstream_url=f"{published.gateway.url}/gateway{published.api.base_path}"
    )
    from core.config_version import bump_config_version

    bump_config_version()
    published.gateway_wait_for_reload()
    response = published.get("/pets", published.token())
    assert response.status_code == 508
    assert response.json()["code"] == "loop_detected"
    assert published.upstream.hits == 0


def test_the_data_plane_checks_the_address_it_connects_to(published, settings):
    """An upstream stored before the policy denied it (or a name rebinding to a denied
    address) is refused when the data plane connects, not only when an admin saves it."""
    published.upstream.extra_headers = [("Connection", "close")]  # nothing stays pooled
    assert published.get("/pets", published.token()).status_code == 200
    hits = published.upstream.hits
    settings.GATEWAY_OUTBOUND_ALLOW_LOOPBACK = False  # the upstream lives on 127.0.0.1
    try:
        response = published.get("/pets", published.token(sub="fresh"))
    finally:
        settings.GATEWAY_OUTBOUND_ALLOW_LOOPBACK = True
    assert response.status_code == 502
    assert response.json()["code"] == "upstream_unavailable"
    assert "outbound policy" in response.json()["detail"]
    assert published.upstream.hits == hits


@pytest.mark.parametrize(
    "host_lines", [[], ["Host: a.example", "Host: b.example"]], ids=["no-host", "two-hosts"]
)
def test_an_http_1_1_request_needs_exactly_one_host(published, host_lines):
    import socket

    path = f"/gateway{published.api.base_path}/pets"
    head = [f"GET {path} HTTP/1.1", *host_lines, f"Authorization: Bearer {published.token()}"]
    with socket.create_connection(("127.0.0.1", published.gateway.port), timeout=5) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:100]
    assert published.upstream.hits == 0


def test_the_upstreams_date_is_not_sent_twice(published):
    response = published.get("/pets", published.token())
    assert response.status_code == 200
    assert len(response.raw.headers.getlist("Date")) == 1
