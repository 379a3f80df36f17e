"""Keys over time: when the gateway fetches an issuer's keys, what a failed or hostile
fetch changes, and how a rotation of the internal issuer's key stays seamless.

An unknown kid causes one (rate-limited) fetch, a bad signature or a missing kid none;
a failed fetch never replaces the last good keys, but keys older than max_stale are a
503; a key dropped from a fresh JWKS is refused at once; the internal issuer publishes
its next key before it signs with it. A key fetch never follows a redirect away from
https, has a total deadline and a capped body. The rules are E1-E5 of docs/security.md,
Token rules.
"""

import time

import pytest

from apis.models import IdentifyAndAuthorizePolicy
from authservers.http import FetchError, fetch_json
from authservers.keystore import key_store
from authservers.models import AuthorizationServer, JwksSnapshot
from authservers.signing import ensure_signing_keys, issue_access_token, rotate_signing_key
from authservers.tasks import refresh_jwks as refresh_task
from proxy.config import config_holder
from tests.faults.upstreams import drip_json_head
from tests.servers import RedirectServer, ScriptedServer, tls_files
from tests.signing_keys import publish_next_key_long_ago
from tests.tokens import new_rsa_key

# --- An unknown kid (E1) -----------------------------------------------------------------


def test_an_unknown_kid_causes_one_fetch_and_a_bad_signature_none(published):
    assert published.get("/pets", published.token()).status_code == 200
    fetches = published.idp.hits
    header, payload, signature = published.token().split(".")
    forged = f"{header}.{payload}.{signature[:-6]}AAAAAA"
    for _ in range(20):
        assert published.get("/pets", forged).status_code == 401
    assert published.idp.hits == fetches  # a bad signature never refreshes
    stranger = new_rsa_key("never-published")
    for _ in range(20):
        assert published.get("/pets", published.token(key=stranger)).status_code == 401
    assert published.idp.hits == fetches + 1  # one fetch for the unknown kid, then rate-limited


def test_a_token_without_kid_never_refreshes(published):
    assert published.get("/pets", published.token()).status_code == 200
    fetches = published.idp.hits
    token = published.token(key=new_rsa_key("x"), header={"kid": None})
    for _ in range(10):
        assert published.get("/pets", token).status_code == 401
    assert published.idp.hits == fetches


# --- A failed fetch (E2) -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["error", "html", "empty"])
def test_a_failed_fetch_never_replaces_the_last_good_keys(published, mode):
    token = published.token()
    assert published.get("/pets", token).status_code == 200
    version = JwksSnapshot.objects.get(server=published.server).version
    published.idp.mode = mode
    outcome = refresh_task(published.server.pk)
    assert outcome["ok"] is False
    snapshot = JwksSnapshot.objects.get(server=published.server)
    assert snapshot.version == version
    assert snapshot.last_error
    key_store.forget()
    assert published.get("/pets", published.token(sub="fresh")).status_code == 200


def test_keys_older_than_max_stale_are_503_with_retry_after(published):
    token = published.token()
    assert published.get("/pets", token).status_code == 200
    # Past the validation floor on purpose, to see the limit without waiting a day.
    AuthorizationServer.objects.filter(pk=published.server.pk).update(max_stale_seconds=1)
    published.server.refresh_from_db()
    published.server.save()
    published.idp.mode = "error"
    published.gateway_wait_for_reload()
    time.sleep(1.2)
    response = published.get("/pets", token)
    assert response.status_code == 503
    assert response.json()["code"] == "issuer_unavailable"
    assert int(response.headers["Retry-After"]) > 0
    assert published.upstream.hits == 1


# --- A key dropped by the issuer (E3) ----------------------------------------------------


def test_a_key_dropped_from_a_fresh_jwks_is_refused_at_once(published, ec_key, settings):
    settings.GATEWAY_KEYS_POLL_SECONDS = 0  # as every worker does within its poll interval
    token = published.token()
    assert published.get("/pets", token).status_code == 200  # verified and cached
    published.idp.keys = [ec_key]
    assert refresh_task(published.server.pk)["ok"] is True
    # The data plane re-reads the snapshot off its event loop: the first call after the
    # fetch starts that read, and the dropped key is refused as soon as it lands.
    deadline = time.monotonic() + 1.0
    response = published.get("/pets", token)
    while response.status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.05)
        response = published.get("/pets", token)
    assert response.status_code == 401
    assert "unknown" in response.json()["detail"]
    # A token signed by the key that stays keeps working.
    assert published.get("/pets", published.token(key=ec_key, alg="ES256")).status_code == 200


# --- Rotation of the internal issuer's key (E4) ------------------------------------------


def test_the_internal_issuer_publishes_a_key_before_it_signs_with_it(published):
    internal = AuthorizationServer.objects.create(
        name="Gatekeep", kind="internal", issuer="https://gatekeep.example.com"
    )
    IdentifyAndAuthorizePolicy.objects.get(api=published.api).authorization_servers.add(internal)
    active = ensure_signing_keys(internal)
    published.gateway_wait_for_reload()

    def issue() -> str:
        return issue_access_token(
            internal,
            subject="svc",
            client_id="petstore-client",
            scope="pets:read",
            audience="petstore",
        )

    first = issue()
    assert published.get("/pets", first).status_code == 200
    server_config = (
        config_holder.current().apis[("petstore", "v1")].policy.servers_by_issuer[internal.issuer]
    )
    known_to_the_gateway = set(key_store.keyset(server_config.keys).by_kid)
    assert active.kid in known_to_the_gateway
    assert len(known_to_the_gateway) == 2  # active + next

    publish_next_key_long_ago(internal)  # verifiers' cached key sets all hold the next key
    promoted = rotate_signing_key(internal)
    assert promoted.kid in known_to_the_gateway  # published before it signed anything
    second = issue()
    assert published.get("/pets", second).status_code == 200
    assert published.get("/pets", first).status_code == 200  # the retired key stays published
    assert active.kid in JwksSnapshot.objects.get(server=internal).key_ids


# --- Limits of a key fetch (E5) ----------------------------------------------------------


@pytest.fixture
def https_redirector(tmp_path, monkeypatch):
    """A loopback HTTPS server (self-signed, trusted via REQUESTS_CA_BUNDLE) that redirects."""
    cert_file, key_file = tls_files(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_file))
    server = RedirectServer(tls=(cert_file, key_file))
    yield server
    server.stop()


def test_a_key_fetch_redirect_never_leaves_https(https_redirector, idp):
    https_redirector.location = f"{idp.url}/jwks"  # plain http, even on loopback
    with pytest.raises(FetchError, match="could not be fetched") as refused:
        fetch_json(f"{https_redirector.url}/jwks")
    assert "redirect from https" in refused.value.detail  # the admin sees the uniform message
    assert idp.hits == 0


def test_a_key_fetch_redirect_to_a_plain_http_host_is_refused(https_redirector):
    https_redirector.location = "http://169.254.169.254/latest/meta-data/"
    with pytest.raises(FetchError):
        fetch_json(f"{https_redirector.url}/jwks")


def test_the_key_fetch_deadline_covers_a_dripped_response_head(settings):
    settings.JWKS_READ_TIMEOUT = 1.0
    settings.JWKS_TOTAL_TIMEOUT = 1.5

    dripping = ScriptedServer(drip_json_head)
    try:
        started = time.monotonic()
        with pytest.raises(FetchError, match="could not be fetched") as failed:
            fetch_json(f"{dripping.url}/jwks")
        assert time.monotonic() - started < 3
        assert "timed out" in failed.value.detail
    finally:
        dripping.stop()


def test_the_key_fetch_body_is_capped(idp, settings):
    settings.JWKS_MAX_BYTES = 1024
    idp.keys = [new_rsa_key(f"k{n}") for n in range(3)]
    with pytest.raises(FetchError, match="could not be fetched") as failed:
        fetch_json(f"{idp.url}/jwks")
    assert "too large" in failed.value.detail
