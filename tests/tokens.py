"""Signing test tokens with jwcrypto: independent of the gateway's own verifier."""

import datetime
import ipaddress
import json
import time
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from jwcrypto import jwk, jws
from jwcrypto.common import base64url_encode


def new_rsa_key(kid: str | None = None, alg: str | None = "RS256", size: int = 2048) -> jwk.JWK:
    params = {"kid": kid or f"rsa-{uuid.uuid4().hex[:8]}", "use": "sig"}
    if alg:
        params["alg"] = alg
    return jwk.JWK.generate(kty="RSA", size=size, **params)


def new_ec_key(kid: str | None = None) -> jwk.JWK:
    return jwk.JWK.generate(
        kty="EC", crv="P-256", kid=kid or f"ec-{uuid.uuid4().hex[:8]}", use="sig", alg="ES256"
    )


def sign(key: jwk.JWK, claims: dict, header: dict | None = None, alg: str | None = None) -> str:
    """A compact JWS over `claims` with `header` members added (or removed when None)."""
    protected = {"alg": alg or key.get("alg") or "RS256", "kid": key.get("kid"), "typ": "JWT"}
    for name, value in (header or {}).items():
        if value is None:
            protected.pop(name, None)
        else:
            protected[name] = value
    token = jws.JWS(json.dumps(claims).encode())
    token.add_signature(key, alg=protected["alg"], protected=json.dumps(protected))
    return token.serialize(compact=True)


def claims_for(issuer: str, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "iss": issuer,
        "sub": "user-42",
        "aud": "petstore",
        "client_id": "petstore-client",
        "scope": "pets:read pets:write",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    for name, value in overrides.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def raw_token(header: dict, claims: dict | bytes, signature: bytes = b"") -> str:
    """An arbitrary compact token, for malformed-input cases."""
    payload = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
    return ".".join(
        [
            base64url_encode(json.dumps(header).encode()),
            base64url_encode(payload),
            base64url_encode(signature),
        ]
    )


def sign_raw(key: jwk.JWK, header: dict | str, claims: dict | str | bytes) -> str:
    """Sign exactly this header and payload text, bypassing jwcrypto's header checks."""
    from jwcrypto.jws import JWSCore

    header_text = header if isinstance(header, str) else json.dumps(header)
    if isinstance(claims, dict):
        claims = json.dumps(claims)
    payload = claims.encode() if isinstance(claims, str) else claims
    alg = json.loads(header_text).get("alg") if isinstance(header, dict) else None
    core = JWSCore(alg or key.get("alg") or "RS256", key, header_text, payload, algs=None)
    signed = core.sign()
    body = signed["payload"]
    body = body.decode() if isinstance(body, bytes) else body
    return f"{signed['protected']}.{body}.{signed['signature']}"


def certificate_pem(key: jwk.JWK, common_name: str = "idp.example.com", ip: str = "") -> bytes:
    """A self-signed certificate for `key`, valid for a day. With `ip`, a certificate a TLS
    server on that address can present and a client can trust as its own CA."""
    private = key.get_op_key("sign")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False,
        ).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    cert = builder.sign(private, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM)
