"""Crafting hostile tokens and requests: everything an attacker can put on the wire.

These helpers build JOSE text byte by byte (with `hmac`, `base64`, `zlib`), so a
case never depends on a library agreeing to produce something malformed.
"""

import base64
import hashlib
import hmac
import json
import zlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.tokens import certificate_pem


def b64url(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def text(value: dict | str) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def unsigned(header: dict | str, payload: dict | str | bytes, signature: bytes = b"") -> str:
    body = payload if isinstance(payload, bytes) else text(payload).encode()
    return f"{b64url(text(header))}.{b64url(body)}.{b64url(signature)}"


def hs256(header: dict | str, payload: dict | str, secret: bytes) -> str:
    """HS256 over exactly this header and payload text, keyed with `secret`."""
    signing_input = f"{b64url(text(header))}.{b64url(text(payload))}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def public_key_forms(key) -> dict[str, bytes]:
    """Every spelling of an RSA public key an attacker may try as an HMAC secret (case 11)."""
    pem = key.export_to_pem()
    der = key.get_op_key("verify").public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "pem": pem,
        "pem-without-final-newline": pem.rstrip(b"\n"),
        "der": der,
        "jwk-json": json.dumps(key.export_public(as_dict=True)).encode(),
        "certificate-pem": certificate_pem(key),
    }


def certificate_der_b64(key) -> str:
    """The x5c form of a key's self-signed certificate (standard base64 DER)."""
    cert = x509.load_pem_x509_certificate(certificate_pem(key))
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def jwe_compact(header: dict, ciphertext: bytes = b"\x00" * 32) -> str:
    """A five-segment JWE with this protected header; nothing in it may be decrypted."""
    return ".".join(
        [
            b64url(json.dumps(header)),
            b64url(b"\x01" * 256),
            b64url(b"\x02" * 16),
            b64url(ciphertext),
            b64url(b"\x03" * 16),
        ]
    )


def deflate_bomb(size: int) -> bytes:
    """`size` bytes of zeros compressed with raw DEFLATE (JWE zip: DEF)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(b"\x00" * size) + compressor.flush()


def nested(depth: int) -> str:
    return '{"x":' + "[" * depth + "]" * depth + "}"
