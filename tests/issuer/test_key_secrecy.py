"""Private signing keys are encrypted at rest and never leave through a page, an API or a log."""

import base64
import json
import logging

import pytest
import requests
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings as django_settings
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from authservers import signing
from authservers.models import SigningKey
from authservers.signing import ensure_signing_keys, rotate_signing_key
from core.models import AuditEvent
from tests.signing_keys import publish_next_key_long_ago


def fernet_from(secret: str) -> Fernet:
    """The documented derivation, rebuilt independently: HKDF-SHA256 of the secret."""
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"gatekeep-signing-keys", info=b"fernet"
    ).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def private_material(key: SigningKey) -> list[str]:
    """Everything that would betray the key: its private JWK members and the stored blob."""
    private = json.loads(
        signing._private_jwk(key).export_private()  # the test's own peek, never the app's
    )
    members = [private[name] for name in ("d", "p", "q", "dp", "dq", "qi") if name in private]
    assert members  # an RSA key has all six
    return [*members, key.private_key]


@pytest.fixture(autouse=True)
def forget_decrypted_keys():
    signing._private_keys.clear()
    yield
    signing._private_keys.clear()


def test_the_private_key_is_stored_encrypted(issuer):
    ensure_signing_keys(issuer.server)

    for key in SigningKey.objects.filter(server=issuer.server):
        assert "PRIVATE KEY" not in key.private_key
        pem = fernet_from(django_settings.SECRET_KEY).decrypt(key.private_key.encode())
        assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
        assert not {"d", "p", "q"} & set(key.public_jwk)


def test_a_configured_encryption_key_can_itself_be_rotated(issuer, settings):
    settings.GATEWAY_KEY_ENCRYPTION_KEY = "first-key-encryption-secret"
    ensure_signing_keys(issuer.server)
    assert issuer.call(issuer.token()["access_token"]).status_code == 200

    signing._private_keys.clear()
    settings.GATEWAY_KEY_ENCRYPTION_KEY = "second-key-encryption-secret"
    refused = issuer.token_response(grant_type="client_credentials")
    assert refused.status_code == 503
    assert refused.json() == {
        "error": "temporarily_unavailable",
        "error_description": "The issuer cannot sign tokens right now.",
    }

    settings.GATEWAY_KEY_ENCRYPTION_KEY = "second-key-encryption-secret,first-key-encryption-secret"
    assert issuer.call(issuer.token()["access_token"]).status_code == 200
    publish_next_key_long_ago(issuer.server)
    rotate_signing_key(issuer.server)
    newest = SigningKey.objects.get(server=issuer.server, state="next")
    assert fernet_from("second-key-encryption-secret").decrypt(newest.private_key.encode())


def test_no_response_page_api_or_log_line_contains_private_key_material(
    issuer, admin_client, admin_user, caplog, capsys
):
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []
    password = issuer.password_token(scope="pets:read")
    outputs += [
        json.dumps(issuer.token()),
        json.dumps(password),
        json.dumps(issuer.token("refresh_token", refresh_token=password["refresh_token"])),
        issuer.token_response(auth=(issuer.client_id, "wrong"), grant_type="password").text,
        requests.get(f"{issuer.url}/oauth2/jwks", timeout=10).text,
        requests.get(f"{issuer.url}/.well-known/openid-configuration", timeout=10).text,
    ]
    publish_next_key_long_ago(issuer.server)
    rotate_signing_key(issuer.server, admin_user)
    publish_next_key_long_ago(issuer.server)
    call_command("rotate_signing_key")
    publish_next_key_long_ago(issuer.server)
    outputs.append(capsys.readouterr().out)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin_user).key}")
    server_url = f"/api/v1/authorization-servers/{issuer.server.pk}/"
    for response in (api.get(server_url), api.post(server_url + "rotate-key/")):
        assert response.status_code == 200
        outputs.append(response.content.decode())
    admin_pages = [
        "/admin/authservers/authorizationserver/",
        f"/admin/authservers/authorizationserver/{issuer.server.pk}/change/",
        "/admin/core/auditevent/",
        *(f"/admin/core/auditevent/{e.pk}/change/" for e in AuditEvent.objects.all()),
    ]
    for page in admin_pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        outputs.append(response.content.decode())
    change_page = outputs[-len(admin_pages) + 1]
    assert SigningKey.objects.filter(server=issuer.server, state="active").get().kid in change_page
    outputs.append(json.dumps(list(AuditEvent.objects.values("before", "after"))))
    outputs.append(caplog.text)

    keys = list(SigningKey.objects.filter(server=issuer.server))
    assert len(keys) == 5  # three rotations' worth: active, next and three retired
    everything = "\n".join(outputs)
    assert "PRIVATE KEY" not in everything
    for key in keys:
        for secret in private_material(key):
            assert secret not in everything, f"private material of {key.kid} leaked"
    assert '"d"' not in everything
