"""Issue 12: key and discovery fetches connect only where the outbound policy allows -
after discovery, on every redirect hop and on the address DNS returns at connect time -
and their errors read the same whether a port is closed, hangs or answers 404."""

import socket

import pytest

from authservers.http import FetchError, fetch_json
from authservers.models import AuthorizationServer
from authservers.services import refresh_jwks
from core import outbound
from tests.servers import JwksServer, RedirectServer

pytestmark = pytest.mark.django_db

METADATA_URLS = [
    "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "https://[::ffff:169.254.169.254]/latest/meta-data/",
    "https://0xa9fea9fe/latest/meta-data/",
    "https://metadata.google.internal/computeMetadata/v1/",
]


@pytest.fixture
def connections(monkeypatch) -> list:
    """Every address the outbound client opens a socket to, in order."""
    opened = []
    real = outbound._open_socket

    def recording(info, *args):
        opened.append(info[4][:2])
        return real(info, *args)

    monkeypatch.setattr(outbound, "_open_socket", recording)
    return opened


@pytest.fixture
def fake_dns(monkeypatch):
    """fake_dns({"name": ["ip", ...]}): this module's resolver answers those names so."""
    answers: dict[str, list[str]] = {}
    asked: list[str] = []
    real = outbound._getaddrinfo

    def getaddrinfo(host, port, family=0, kind=0, *args):
        asked.append(host)
        if host not in answers:
            return real(host, port, family, kind, *args)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0))
            if ":" in ip
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
            for ip in answers[host]
        ]

    monkeypatch.setattr(outbound, "_getaddrinfo", getaddrinfo)

    def configure(mapping: dict[str, list[str]]) -> list[str]:
        answers.update(mapping)
        return asked

    return configure


@pytest.fixture
def redirector():
    """A loopback server answering every GET with 302 to `redirector.location`."""
    server = RedirectServer()
    yield server
    server.stop()


def external(**fields) -> AuthorizationServer:
    server = AuthorizationServer(name=f"kc {AuthorizationServer.objects.count()}", **fields)
    server.full_clean()  # what every admin path runs
    server.save()
    return server


# --- after discovery ------------------------------------------------------------------------


@pytest.mark.parametrize("jwks_uri", METADATA_URLS)
def test_a_discovered_jwks_uri_at_a_metadata_address_is_refused_without_connecting(
    idp, connections, jwks_uri
):
    idp.discovery_document = lambda: {"issuer": idp.issuer, "jwks_uri": jwks_uri}
    server = external(issuer=idp.issuer)
    outcome = refresh_jwks(server)
    assert outcome.ok is False
    assert outcome.error.startswith("Refusing to fetch the key set from ")
    assert "cloud metadata" in outcome.error
    assert idp.discovery_hits == 1
    assert connections == [("127.0.0.1", idp.port)]  # discovery only


# --- on every redirect hop --------------------------------------------------------------------


@pytest.mark.parametrize("location", METADATA_URLS)
def test_a_redirect_to_a_denied_address_is_refused_without_following_it(
    redirector, connections, location
):
    redirector.location = location
    with pytest.raises(FetchError) as refused:
        fetch_json(f"{redirector.url}/jwks")
    # The admin cannot read where the redirect pointed; the log can.
    assert str(refused.value) == (
        f"The key set could not be fetched from 127.0.0.1:{redirector.port} "
        "(connection failed or the answer was not a key set)."
    )
    assert "redirect to a refused URL" in refused.value.detail
    assert "metadata" in refused.value.detail
    assert redirector.hits == 1
    assert connections == [("127.0.0.1", redirector.port)]


def test_a_redirect_to_a_name_resolving_to_metadata_is_refused_without_connecting(
    redirector, connections, fake_dns
):
    fake_dns({"keys.rebind.test": ["169.254.169.254"]})
    redirector.location = "https://keys.rebind.test/jwks"
    with pytest.raises(FetchError, match="could not be fetched") as refused:
        fetch_json(f"{redirector.url}/jwks")
    assert "redirect to a refused address" in refused.value.detail
    assert connections == [("127.0.0.1", redirector.port)]


# --- at connect time: DNS rebinding ------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        ["169.254.169.254"],
        ["127.0.0.1", "169.254.169.254"],  # a harmless address first does not help
        ["::ffff:169.254.169.254"],
        ["fd00:ec2::254"],
        ["0.0.0.0"],
        ["169.254.1.1"],
    ],
)
def test_a_name_that_resolves_to_a_denied_address_is_refused_without_connecting(
    fake_dns, connections, answer
):
    fake_dns({"keys.rebind.test": answer})
    server = external(issuer="https://idp.example.com", jwks_uri="https://keys.rebind.test/jwks")
    outcome = refresh_jwks(server)  # passed input validation: the name itself is fine
    assert outcome.ok is False
    assert outcome.error == (
        "Refusing to fetch the key set from keys.rebind.test: keys.rebind.test resolves to "
        "an address the outbound policy denies."
    )
    assert connections == []


def test_a_private_answer_is_refused_when_private_ranges_are_off(fake_dns, connections, settings):
    fake_dns({"keys.corp.test": ["10.0.0.7"]})
    settings.GATEWAY_OUTBOUND_ALLOW_PRIVATE = False
    with pytest.raises(FetchError, match="resolves to an address the outbound policy denies"):
        fetch_json("https://keys.corp.test/jwks")
    assert connections == []


def test_the_socket_connects_to_the_checked_address_from_one_resolution(
    idp, fake_dns, connections, settings
):
    settings.GATEWAY_ALLOW_HTTP_ISSUERS = True  # a plain-http name, for the loopback IdP
    port = idp.port
    asked = fake_dns({"idp.pinned.test": ["127.0.0.1"]})
    server = external(
        issuer="https://idp.example.com", jwks_uri=f"http://idp.pinned.test:{port}/jwks"
    )
    outcome = refresh_jwks(server)
    assert outcome.ok is True, outcome.error
    assert connections == [("127.0.0.1", port)]
    assert asked.count("idp.pinned.test") == 1


def test_with_loopback_off_a_stored_loopback_jwks_uri_is_refused_without_connecting(
    idp, connections, settings
):
    server = external(issuer="https://idp.example.com", jwks_uri=f"{idp.url}/jwks")
    settings.GATEWAY_OUTBOUND_ALLOW_LOOPBACK = False
    outcome = refresh_jwks(server)
    assert outcome.ok is False
    assert "GATEWAY_OUTBOUND_ALLOW_LOOPBACK is off" in outcome.error
    assert connections == [] and idp.hits == 0


# --- errors that do not map ports ----------------------------------------------------------------


def test_a_closed_port_a_404_a_500_a_hang_tls_and_non_key_sets_read_the_same(idp, settings, caplog):
    settings.JWKS_READ_TIMEOUT = 0.5
    settings.JWKS_TOTAL_TIMEOUT = 1.0
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    servers = {mode: JwksServer() for mode in ("error", "hang", "html", "huge")}
    servers["hang"].hang_seconds = 2
    for mode, server in servers.items():
        server.mode = mode
    idp_port = idp.port
    urls = {
        "closed port": f"http://127.0.0.1:{closed_port}/jwks",
        "404": f"{idp.url}/nothing-here",
        "500": f"{servers['error'].url}/jwks",
        "hang": f"{servers['hang'].url}/jwks",
        "html": f"{servers['html'].url}/jwks",
        "too large": f"{servers['huge'].url}/jwks",
        "JSON, not a key set": f"{idp.url}/.well-known/openid-configuration",
        "TLS to a plain port": f"https://127.0.0.1:{idp_port}/jwks",
    }
    try:
        errors = {}
        for n, (case, url) in enumerate(urls.items()):
            server = external(issuer=f"https://idp{n}.example.com", jwks_uri=url)
            outcome = refresh_jwks(server)
            assert outcome.ok is False, case
            origin = url.split("/")[2]
            errors[case] = outcome.error.replace(origin, "<host>")
    finally:
        for server in servers.values():
            server.stop()
    assert set(errors.values()) == {
        "The key set could not be fetched from <host> "
        "(connection failed or the answer was not a key set)."
    }, errors
    # The server log keeps what happened, for the operator.
    for detail in ("answered HTTP 404", "answered HTTP 500", "timed out", "did not return JSON"):
        assert detail in caplog.text


def test_discovery_failures_read_the_same_too(idp):
    server = external(issuer=idp.issuer, discovery_url=f"{idp.url}/jwks")  # a key set, no issuer
    outcome = refresh_jwks(server)
    assert outcome.error == (
        f"The discovery document could not be fetched from {idp.url.removeprefix('http://')} "
        "(connection failed or the answer was not a discovery document)."
    )


def test_loopback_idps_keep_working_by_default(idp, connections):
    server = external(issuer=idp.issuer)
    outcome = refresh_jwks(server)
    assert outcome.ok is True
    assert sorted(outcome.key_ids) == ["ec-1", "rsa-1"]
    assert {address for address, _ in connections} == {"127.0.0.1"}
