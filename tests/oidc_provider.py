"""A small OpenID Connect provider on loopback, for the console's single sign-on tests.

It does what a company identity provider does for a confidential web client: discovery,
a JWKS, an authorization endpoint with its own sign-in form (people and their groups
are set by the test), and a token endpoint that checks the client secret (HTTP Basic),
the redirect URI and the PKCE verifier (S256), and answers with an RS256 ID token
carrying the nonce, the person's names and their `groups`. Codes are single-use.
"""

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.servers import LoopbackServer, QuietHandler
from tests.tokens import new_rsa_key, sign


@dataclass
class Person:
    subject: str
    username: str
    password: str
    groups: list[str] = field(default_factory=list)
    email: str = ""
    name: str = ""


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class _ProviderHandler(QuietHandler):
    def do_GET(self) -> None:
        provider: OidcProvider = self.server.owner
        url = urlsplit(self.path)
        if url.path == "/.well-known/openid-configuration":
            provider.discovery_hits += 1
            return self._json(200, provider.discovery_document())
        if url.path == "/jwks":
            return self._json(200, {"keys": [provider.key.export_public(as_dict=True)]})
        if url.path == "/authorize":
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            return self._authorize_form(params, error="")
        self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        provider: OidcProvider = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        path = urlsplit(self.path).path
        if path == "/authorize":
            return self._authorize_submit(provider, form)
        if path == "/token":
            return self._token(provider, form)
        self._json(404, {"error": "not_found"})

    # --- authorization endpoint -------------------------------------------------------

    def _authorize_form(self, params: dict, error: str) -> None:
        provider: OidcProvider = self.server.owner
        problem = provider.check_authorization_request(params)
        if problem:
            return self._html(400, f"<h1>Bad request</h1><p>{html.escape(problem)}</p>")
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        body = (
            "<!doctype html><title>Example IdP sign-in</title><h1>Example IdP</h1>"
            f'<p class="error">{html.escape(error)}</p>'
            f'<form method="post" action="/authorize">{hidden}'
            '<label>Username <input name="login" id="login"></label>'
            '<label>Password <input name="secret" id="secret" type="password"></label>'
            '<button type="submit" name="decision" value="allow">Continue</button>'
            '<button type="submit" name="decision" value="deny">Cancel</button></form>'
        )
        self._html(200, body)

    def _authorize_submit(self, provider: "OidcProvider", form: dict) -> None:
        login, secret = form.pop("login", ""), form.pop("secret", "")
        decision = form.pop("decision", "allow")
        problem = provider.check_authorization_request(form)
        if problem:
            return self._html(400, f"<h1>Bad request</h1><p>{html.escape(problem)}</p>")
        if decision == "deny":
            query = {"error": "access_denied", "state": form.get("state", "")}
            return self._redirect(f"{form['redirect_uri']}?{urlencode(query)}")
        person = provider.people.get(login)
        if person is None or not secrets.compare_digest(person.password, secret):
            return self._authorize_form(form, error="Wrong username or password.")
        code = secrets.token_urlsafe(24)
        with provider.lock:
            provider.codes[code] = {
                "person": person,
                "redirect_uri": form["redirect_uri"],
                "challenge": form.get("code_challenge", ""),
                "nonce": form.get("nonce"),
                "expires": time.time() + 60,
            }
        query = {"code": code, "state": form.get("state", "")}
        self._redirect(f"{form['redirect_uri']}?{urlencode(query)}")

    # --- token endpoint ---------------------------------------------------------------

    def _token(self, provider: "OidcProvider", form: dict) -> None:
        provider.token_requests += 1
        auth = self.headers.get("Authorization", "")
        client_id = client_secret = ""
        if auth.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        else:
            client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        if client_id != provider.client_id or not secrets.compare_digest(
            client_secret, provider.client_secret
        ):
            return self._json(401, {"error": "invalid_client"})
        if form.get("grant_type") != "authorization_code":
            return self._json(400, {"error": "unsupported_grant_type"})
        with provider.lock:
            grant = provider.codes.pop(form.get("code", ""), None)  # single use
        if (
            grant is None
            or grant["expires"] < time.time()
            or grant["redirect_uri"] != form.get("redirect_uri")
            or not grant["challenge"]
            or _s256(form.get("code_verifier", "")) != grant["challenge"]
        ):
            return self._json(400, {"error": "invalid_grant"})
        person: Person = grant["person"]
        now = int(time.time())
        claims = {
            "iss": provider.issuer,
            "sub": person.subject,
            "aud": provider.client_id,
            "iat": now,
            "exp": now + 300,
            "preferred_username": person.username,
            "email": person.email,
            "name": person.name,
            provider.groups_claim: person.groups,
        }
        if grant["nonce"]:
            claims["nonce"] = grant["nonce"]
        claims.update(provider.extra_claims)
        if provider.drop_nonce:
            claims.pop("nonce", None)
        id_token = sign(provider.signing_key or provider.key, claims, header={"typ": "JWT"})
        self._json(
            200,
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            },
        )

    # --- answers ------------------------------------------------------------------------

    def _json(self, status: int, payload: dict) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _html(self, status: int, body: str) -> None:
        self._send(status, body.encode(), "text/html; charset=utf-8")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


class OidcProvider(LoopbackServer):
    """The provider at `url` (its issuer), with one registered client and its people."""

    def __init__(self, client_id: str = "gatekeep-console", redirect_uri: str = ""):
        self.client_id = client_id
        self.client_secret = secrets.token_urlsafe(24)
        self.redirect_uri = redirect_uri
        self.key = new_rsa_key(kid="idp-1")
        self.people: dict[str, Person] = {}
        self.codes: dict[str, dict] = {}
        self.groups_claim = "groups"
        self.extra_claims: dict = {}  # merged into every ID token (hostile tests override)
        self.signing_key = None  # sign with this key instead of the published one
        self.drop_nonce = False
        self.discovery_hits = 0
        self.token_requests = 0
        self.lock = threading.Lock()
        super().__init__(_ProviderHandler)
        self.issuer = self.url

    def add(self, person: Person) -> Person:
        self.people[person.username] = person
        return person

    def discovery_document(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    def check_authorization_request(self, params: dict) -> str:
        """What is wrong with an authorization request, or "" (checked before any sign-in)."""
        if params.get("client_id") != self.client_id:
            return "unknown client"
        if self.redirect_uri and params.get("redirect_uri") != self.redirect_uri:
            return "redirect_uri is not registered"
        if params.get("response_type") != "code":
            return "response_type must be code"
        if "openid" not in params.get("scope", "").split():
            return "scope must include openid"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "PKCE with S256 is required"
        return ""
