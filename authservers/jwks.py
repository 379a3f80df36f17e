"""Turning an issuer's key material into the public keys the validator may use.

jwcrypto imports the keys; the rules it leaves to us (RSA >= 2048 bits, no
private members, use/key_ops agreement, alg bound to the key type) live here.
"""

import hashlib
import json
import logging
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwcrypto import jwk

from authservers.choices import SUPPORTED_ALGORITHMS

logger = logging.getLogger(__name__)

PUBLIC_MEMBERS = {
    "RSA": ("kty", "kid", "use", "key_ops", "alg", "n", "e"),
    "EC": ("kty", "kid", "use", "key_ops", "alg", "crv", "x", "y"),
    "OKP": ("kty", "kid", "use", "key_ops", "alg", "crv", "x"),
}
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
RSA_PREFERENCE = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
RSA_ALGORITHMS = frozenset(RSA_PREFERENCE)
EC_ALGORITHM_BY_CURVE = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
MIN_RSA_BITS = 2048
MAX_KID_LENGTH = 256


class KeyRejected(ValueError):
    """A key that must not be used; the message says why."""


@dataclass(frozen=True)
class ParsedKeys:
    keys: list[dict]  # public JWKs, each usable
    skipped: list[str]  # one reason per key that was left out

    @property
    def version(self) -> str:
        return keyset_version(self.keys)


def keyset_version(keys: list[dict]) -> str:
    canonical = json.dumps(keys, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def algorithms_for_key(key: dict, allowed: frozenset[str] | set[str]) -> frozenset[str]:
    """The one algorithm this key may verify (RFC 8725 §3.1), or none.

    The key's own `alg` when it has one; otherwise the algorithm its type implies,
    within the server's allowlist. An EC or Ed25519 key implies exactly one; an
    RSA key without `alg` is bound to the first RSA algorithm the server allows,
    in RSA_PREFERENCE order (RS256 for nearly every IdP). An issuer signing
    PS256 with alg-less keys must publish `alg` or allow only PS256.
    """
    kty, crv, declared = key.get("kty"), key.get("crv"), key.get("alg")
    if not isinstance(declared, str | None) or not isinstance(crv, str | None):
        return frozenset()  # hostile JSON: a list where a name belongs
    if kty == "RSA":
        implied = RSA_ALGORITHMS
    elif kty == "EC":
        implied = frozenset({EC_ALGORITHM_BY_CURVE.get(crv, "")})
    elif kty == "OKP" and crv == "Ed25519":
        implied = frozenset({"EdDSA"})
    else:
        implied = frozenset()
    if declared is not None:
        return frozenset(implied & {declared} & set(allowed))
    if kty == "RSA":
        return frozenset([alg for alg in RSA_PREFERENCE if alg in allowed][:1])
    return frozenset(implied & set(allowed))


def parse_jwks(document: dict, max_keys: int) -> ParsedKeys:
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise KeyRejected("The document has no 'keys' list.")
    if len(keys) > max_keys:
        raise KeyRejected(f"The key set has {len(keys)} keys; at most {max_keys} are accepted.")
    accepted, skipped = [], []
    for index, raw in enumerate(keys):
        try:
            accepted.append(public_signing_key(raw))
        except KeyRejected as exc:
            label = raw.get("kid") if isinstance(raw, dict) else None
            reason = f"key {label!r}: {exc}" if isinstance(label, str) else f"key #{index}: {exc}"
            logger.info("Skipping JWKS %s", reason)
            skipped.append(reason[:300])
    kids = [key.get("kid") for key in accepted]
    duplicated = {kid for kid in kids if kid is not None and kids.count(kid) > 1}
    if duplicated:
        skipped.extend(f"key {kid!r}: the kid appears more than once" for kid in sorted(duplicated))
        accepted = [key for key in accepted if key.get("kid") not in duplicated]
    return ParsedKeys(keys=accepted, skipped=skipped)


def public_signing_key(raw: object) -> dict:
    """Validate one JWK and return only its public members."""
    if not isinstance(raw, dict):
        raise KeyRejected("not a JSON object")
    kty = raw.get("kty")
    if not isinstance(kty, str) or kty not in PUBLIC_MEMBERS:
        raise KeyRejected(f"unsupported key type {str(kty)[:20]!r}")
    if PRIVATE_MEMBERS & raw.keys():
        raise KeyRejected("private key material is published; refusing the key")
    kid = raw.get("kid")
    if kid is not None and (not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH):
        raise KeyRejected("kid must be a short string")
    use, key_ops = raw.get("use"), raw.get("key_ops")
    if use is not None and use != "sig":
        raise KeyRejected(f"not a signing key (use={str(use)[:20]!r})")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise KeyRejected("key_ops does not allow verify")
    alg = raw.get("alg")
    if alg is not None and (not isinstance(alg, str) or alg not in SUPPORTED_ALGORITHMS):
        raise KeyRejected(f"unsupported alg {str(alg)[:20]!r}")
    public = {name: raw[name] for name in PUBLIC_MEMBERS[kty] if name in raw}
    if not algorithms_for_key(public, SUPPORTED_ALGORITHMS):
        raise KeyRejected(f"alg {alg!r} does not fit a {kty} key")
    crypto_key = import_public_key(public)
    if isinstance(crypto_key, rsa.RSAPublicKey) and crypto_key.key_size < MIN_RSA_BITS:
        raise KeyRejected(f"RSA key of {crypto_key.key_size} bits; at least {MIN_RSA_BITS} needed")
    return public


def import_public_key(public: dict):
    """A cryptography public key object for a validated public JWK."""
    try:
        key = jwk.JWK(**public).get_op_key("verify")
    except Exception as exc:  # jwcrypto raises many types for malformed members
        raise KeyRejected(f"the key does not parse ({type(exc).__name__})") from None
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise KeyRejected("unsupported key")
    return key


def jwk_from_pem(pem: str) -> dict:
    """The public JWK of a PEM certificate or public key (static-certificate servers)."""
    data = pem.strip().encode()
    try:
        if b"CERTIFICATE" in data:
            from cryptography import x509

            public_key = x509.load_pem_x509_certificate(data).public_key()
            key = jwk.JWK.from_pyca(public_key)
        else:
            key = jwk.JWK.from_pem(data)
    except Exception:
        raise KeyRejected("The PEM is not a certificate or public key that parses.") from None
    if key.has_private:
        raise KeyRejected("That is a private key; paste the public key or certificate.")
    public = key.export_public(as_dict=True)
    public["kid"] = key.thumbprint()
    public["use"] = "sig"
    return public_signing_key(public)
