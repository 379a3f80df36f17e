"""Where an external server's keys come from: discovery, a JWKS URI, or a static certificate."""

import pytest
from django.core.exceptions import ValidationError

from authservers.models import AuthorizationServer
from authservers.services import refresh_jwks
from tests.tokens import certificate_pem, new_rsa_key

pytestmark = pytest.mark.django_db


def test_discovery_finds_the_jwks_uri_from_the_issuer(idp):
    server = AuthorizationServer.objects.create(name="kc", issuer=idp.issuer)
    outcome = refresh_jwks(server)
    assert outcome.ok is True
    assert sorted(outcome.key_ids) == ["ec-1", "rsa-1"]
    assert idp.discovery_hits == 1
    assert server.jwks_snapshot.fetched_at is not None


def test_a_configured_jwks_uri_skips_discovery(idp):
    server = AuthorizationServer.objects.create(
        name="kc", issuer="https://idp.example.com", jwks_uri=f"{idp.url}/jwks"
    )
    assert refresh_jwks(server).ok is True
    assert idp.discovery_hits == 0


def test_discovery_with_another_issuer_is_refused(idp):
    idp.discovery_issuer = "https://evil.example.com"
    server = AuthorizationServer.objects.create(name="kc", issuer=idp.issuer)
    outcome = refresh_jwks(server)
    assert outcome.ok is False
    assert "refusing" in outcome.error
    assert idp.hits == 0


def test_non_signing_and_unsupported_keys_are_skipped_with_a_reason(idp, rsa_key):
    enc_key = new_rsa_key("enc-1", alg=None)
    small = new_rsa_key("small-1", size=1024)
    idp.keys = [rsa_key]
    extra = [
        {**enc_key.export_public(as_dict=True), "use": "enc"},
        small.export_public(as_dict=True),
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        {**new_rsa_key("priv").export_private(as_dict=True)},
    ]
    original = idp.public_keys
    idp.public_keys = lambda: original() + extra
    server = AuthorizationServer.objects.create(name="kc", issuer=idp.issuer)
    outcome = refresh_jwks(server)
    assert outcome.ok is True
    assert outcome.key_ids == ["rsa-1"]
    reasons = " | ".join(server.jwks_snapshot.skipped_keys)
    assert "'enc-1': not a signing key" in reasons
    assert "'small-1': RSA key of 1024 bits" in reasons
    assert "'hmac': unsupported key type" in reasons
    assert "'priv': private key material" in reasons
    assert all("d" not in key for key in server.jwks_snapshot.keys)


def test_a_static_certificate_provides_the_key(rsa_key):
    server = AuthorizationServer(
        name="static",
        issuer="https://static.example.com",
        public_certificate=certificate_pem(rsa_key).decode(),
    )
    server.full_clean()
    server.save()
    outcome = refresh_jwks(server)
    assert outcome.ok is True
    assert server.jwks_snapshot.keys[0]["n"] == rsa_key.export_public(as_dict=True)["n"]


def test_a_pem_that_does_not_parse_is_a_field_error():
    server = AuthorizationServer(
        name="static", issuer="https://static.example.com", public_certificate="-----BEGIN nonsense"
    )
    with pytest.raises(ValidationError) as caught:
        server.full_clean()
    assert "public_certificate" in caught.value.message_dict


def test_a_private_key_pem_is_refused(rsa_key):
    server = AuthorizationServer(
        name="static",
        issuer="https://static.example.com",
        public_certificate=rsa_key.export_to_pem(private_key=True, password=None).decode(),
    )
    with pytest.raises(ValidationError) as caught:
        server.full_clean()
    assert "private key" in caught.value.message_dict["public_certificate"][0]


@pytest.mark.parametrize(
    "issuer",
    ["http://idp.example.com", "ftp://idp.example.com", "https://u:p@idp.example.com", "idp"],
)
def test_issuer_urls_must_be_https_outside_loopback(issuer):
    with pytest.raises(ValidationError) as caught:
        AuthorizationServer(name="x", issuer=issuer).full_clean()
    assert "issuer" in caught.value.message_dict


def test_http_issuers_are_allowed_behind_the_dev_flag(settings):
    settings.GATEWAY_ALLOW_HTTP_ISSUERS = True
    AuthorizationServer(name="x", issuer="http://idp.example.com").full_clean()


def test_alg_none_and_hmac_are_not_allowed_algorithms():
    for algorithms in (["none"], ["HS256"], [], "RS256"):
        with pytest.raises(ValidationError) as caught:
            AuthorizationServer(
                name="x", issuer="https://idp.example.com", allowed_algorithms=algorithms
            ).full_clean()
        assert "allowed_algorithms" in caught.value.message_dict
