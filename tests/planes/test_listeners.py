"""Two origins: proxied APIs and the public OAuth2 endpoints on one listener, the admin
surfaces on another; each path exists on exactly one of them."""

import pytest
import requests
from django.contrib.auth import get_user_model

ADMIN_PATHS = ["/console/", "/console/login/", "/api/v1/", "/api/v1/schema/", "/admin/login/"]
PUBLIC_PATHS = ["/oauth2/jwks", "/.well-known/openid-configuration", "/gateway/petstore/v1/pets"]


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_an_admin_path_on_the_public_listener_is_404(published, path):
    response = requests.get(published.gateway.url + path, timeout=10, allow_redirects=False)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "api_not_found"


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_the_same_admin_path_answers_on_the_admin_listener(published, path):
    response = requests.get(published.gateway.admin_url + path, timeout=10, allow_redirects=False)
    assert response.status_code in {200, 302, 401, 403}, (path, response.status_code)


@pytest.mark.parametrize("path", PUBLIC_PATHS)
def test_a_public_path_on_the_admin_listener_is_404(published, path):
    response = requests.get(published.gateway.admin_url + path, timeout=10)
    assert response.status_code == 404


def test_the_oauth2_endpoints_are_relayed_on_the_public_listener(published):
    from authservers.models import AuthorizationServer

    AuthorizationServer.objects.create(
        name="Gatekeep", kind="internal", issuer=published.gateway.url, required_typ="at+jwt"
    )
    discovery = requests.get(
        published.gateway.url + "/.well-known/openid-configuration", timeout=10
    )
    assert discovery.status_code == 200, discovery.text
    assert discovery.json()["issuer"] == published.gateway.url
    jwks = requests.get(published.gateway.url + "/oauth2/jwks", timeout=10)
    assert jwks.status_code == 200
    assert "keys" in jwks.json()


def test_the_internal_listener_serves_no_admin_path(published):
    get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456789")
    for path in ADMIN_PATHS:
        response = requests.get(published.gateway.internal_url + path, timeout=10)
        assert response.status_code == 404, path


def test_a_console_cookie_never_reaches_an_upstream(published, settings):
    cookies = {
        settings.SESSION_COOKIE_NAME: "admin-session",
        settings.CSRF_COOKIE_NAME: "admin-csrf",
        "gatekeep_session": "public-session",
        "__Host-gatekeep_x": "y",
        "app_cookie": "kept",
    }
    header = "; ".join(f"{name}={value}" for name, value in cookies.items())
    response = published.get("/pets", published.token(), headers={"Cookie": header})
    assert response.status_code == 200
    assert published.upstream.last["headers"]["cookie"] == "app_cookie=kept"


def test_an_upstream_cannot_set_the_gateways_cookies(published, settings):
    published.upstream.extra_headers = [
        ("Set-Cookie", f"{settings.SESSION_COOKIE_NAME}=planted; Path=/"),
        ("Set-Cookie", f"{settings.CSRF_COOKIE_NAME}=planted; Path=/"),
        ("Set-Cookie", "GATEKEEP_session=planted"),
        ("Set-Cookie", "app=fine; Path=/"),
    ]
    response = published.get("/pets", published.token())
    assert response.status_code == 200
    set_cookies = response.raw.headers.getlist("Set-Cookie")
    assert set_cookies == ["app=fine; Path=/"]


def test_public_host_names_restrict_what_the_public_listener_answers(settings, transactional_db):
    from authservers.models import AuthorizationServer
    from tests.servers import GatewayServer

    AuthorizationServer.objects.create(
        name="Gatekeep", kind="internal", issuer="http://api.example.com", required_typ="at+jwt"
    )
    settings.GATEWAY_PUBLIC_HOSTS = ["api.example.com"]
    settings.ALLOWED_HOSTS = ["api.example.com", "127.0.0.1"]
    gateway = GatewayServer()
    try:
        wrong = requests.get(gateway.url + "/oauth2/jwks", timeout=10)
        assert wrong.status_code == 404
        right = requests.get(
            gateway.url + "/oauth2/jwks", headers={"Host": "api.example.com"}, timeout=10
        )
        assert right.status_code == 200, right.text
    finally:
        gateway.stop()


def test_admin_host_names_restrict_what_the_admin_listener_answers(settings, transactional_db):
    from tests.servers import GatewayServer

    settings.GATEWAY_ADMIN_HOSTS = ["admin.example.com"]
    settings.ALLOWED_HOSTS = ["admin.example.com", "127.0.0.1"]
    gateway = GatewayServer()
    try:
        wrong = requests.get(gateway.admin_url + "/console/login/", timeout=10)
        assert wrong.status_code == 404
        right = requests.get(
            gateway.admin_url + "/console/login/",
            headers={"Host": "admin.example.com"},
            timeout=10,
        )
        assert right.status_code == 200
    finally:
        gateway.stop()


def test_console_pages_carry_a_content_security_policy(published):
    response = requests.get(published.gateway.admin_url + "/console/login/", timeout=10)
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
