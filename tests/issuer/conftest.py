"""The internal issuer under test: the gateway issues its own tokens and trusts them.

`issuer` is a running gateway with an internal AuthorizationServer whose issuer is
the gateway's own URL, an active Petstore API trusting it, an application with a
real client id and secret, and an end user (alice) for the user grants.
"""

import base64
import hashlib
import secrets
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from django.contrib.auth import get_user_model

from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.services import activate_api
from applications.models import Application
from applications.services import create_application
from authservers.models import AuthorizationServer
from tests.servers import GatewayServer, UpstreamServer

REDIRECT_URI = "http://127.0.0.1:9/callback"
ALICE_PASSWORD = "correct horse battery staple 42"


@dataclass
class Issuer:
    gateway: GatewayServer
    upstream: UpstreamServer
    server: AuthorizationServer
    api: Api
    application: Application
    secret: str
    user: object

    @property
    def url(self) -> str:
        return self.gateway.url

    @property
    def client_id(self) -> str:
        return self.application.client_id

    def token_response(self, auth: tuple[str, str] | None = None, **data) -> requests.Response:
        """POST /oauth2/token with HTTP Basic client authentication (the preferred method)."""
        return requests.post(
            f"{self.url}/oauth2/token",
            data=data,
            auth=auth or (self.client_id, self.secret),
            timeout=10,
        )

    def token(self, grant_type: str = "client_credentials", **data) -> dict:
        response = self.token_response(grant_type=grant_type, **data)
        assert response.status_code == 200, response.text
        return response.json()

    def password_token(self, **data) -> dict:
        return self.token("password", username=self.user.username, password=ALICE_PASSWORD, **data)

    def call(self, token: str, path: str = "/pets", method: str = "GET") -> requests.Response:
        return requests.request(
            method,
            f"{self.url}/gateway{self.api.base_path}{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )

    def jwks(self) -> dict:
        response = requests.get(f"{self.url}/oauth2/jwks", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def verify(self, token: str, audience: str | list[str] = "petstore") -> dict:
        """Verify like any third party would: PyJWT against the JWKS fetched over HTTP."""
        header = jwt.get_unverified_header(token)
        keys = {key["kid"]: key for key in self.jwks()["keys"]}
        assert header["kid"] in keys, f"kid {header['kid']} is not published"
        public_key = jwt.PyJWK.from_dict(keys[header["kid"]]).key
        return jwt.decode(
            token,
            public_key,
            algorithms=[header["alg"]],
            audience=audience,
            issuer=self.server.issuer,
            options={"require": ["exp", "iat", "nbf", "iss", "sub", "aud", "jti"]},
        )


def make_internal_server(issuer: str, **fields) -> AuthorizationServer:
    defaults = {
        "name": "Gatekeep",
        "kind": "internal",
        "issuer": issuer,
        "required_typ": "at+jwt",
        "default_audience": "petstore",
        "token_lifetime_seconds": 300,
        "allowed_algorithms": ["RS256", "ES256"],
    }
    return AuthorizationServer.objects.create(**(defaults | fields))


def publish_internal_api(server: AuthorizationServer, upstream: UpstreamServer) -> Api:
    api = Api.objects.create(
        name="Petstore",
        version="v1",
        base_path="/petstore/v1",
        upstream_url=f"{upstream.url}/backend",
        read_timeout=2.0,
        connect_timeout=1.0,
    )
    Route.objects.create(api=api, method="GET", path="/pets", required_scopes=["pets:read"])
    Route.objects.create(api=api, method="POST", path="/pets", required_scopes=["pets:write"])
    Route.objects.create(api=api, method="GET", path="/me")
    policy = IdentifyAndAuthorizePolicy.objects.create(
        api=api, audiences=["petstore"], forward_claims={"tenant": "X-Tenant"}
    )
    policy.authorization_servers.add(server)
    assert activate_api(api) == []
    return api


@pytest.fixture
def issuer(gateway, upstream) -> Issuer:
    server = make_internal_server(gateway.url)
    api = publish_internal_api(server, upstream)
    application, secret = create_application(
        name="Petstore app",
        apis=[api],
        custom_claims={"tenant": "acme"},
        redirect_uris=REDIRECT_URI,
    )
    user = get_user_model().objects.create_user("alice", "alice@example.com", ALICE_PASSWORD)
    return Issuer(gateway, upstream, server, api, application, secret, user)


@pytest.fixture
def orders_api(issuer) -> Api:
    """A second API of the application, trusting the issuer, with audience "orders"."""
    api = Api.objects.create(
        name="Orders", version="v1", base_path="/orders/v1", upstream_url=issuer.upstream.url
    )
    Route.objects.create(api=api, method="GET", path="/orders")
    policy = IdentifyAndAuthorizePolicy.objects.create(api=api, audiences=["orders"])
    policy.authorization_servers.add(issuer.server)
    assert activate_api(api) == []
    issuer.application.apis.add(api)
    return api


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class _HiddenInputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""


def hidden_inputs(html: str) -> dict[str, str]:
    parser = _HiddenInputs()
    parser.feed(html)
    return parser.fields


@pytest.fixture
def browser(issuer, settings):
    """A browser session signed in as alice through the issuer's own login page."""
    # The gateway runs on plain-http loopback: let the browser send its cookies back.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    session = requests.Session()
    page = session.get(f"{issuer.url}/oauth2/login", timeout=10)
    assert page.status_code == 200
    response = session.post(
        f"{issuer.url}/oauth2/login",
        data={
            "username": "alice",
            "password": ALICE_PASSWORD,
            "csrfmiddlewaretoken": hidden_inputs(page.text)["csrfmiddlewaretoken"],
            "next": "/oauth2/jwks",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    yield session
    session.close()  # a kept-alive connection would pin a gateway thread and its DB session


def authorize(issuer, browser, **params) -> requests.Response:
    """GET the consent page, then approve it; returns the redirect to the client."""
    query = {
        "response_type": "code",
        "client_id": issuer.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "pets:read",
        "state": "st-123",
    } | params
    page = browser.get(
        f"{issuer.url}/oauth2/authorize?{urlencode(query)}", allow_redirects=False, timeout=10
    )
    if page.status_code != 200:
        return page
    form = hidden_inputs(page.text) | {"allow": "Authorize"}
    return browser.post(page.url, data=form, allow_redirects=False, timeout=10)


def redirect_params(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
