"""JWS signature verification with `cryptography` directly.

The token is already strictly parsed by proxy.tokens, and the key is bound to its
algorithms by the key store, so all that is left is the primitive. Skipping
jwcrypto here saves its per-call deepcopy on the hot path (docs/architecture.md, Measurements).
"""

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
# ES512 uses P-521: 66-byte coordinates.
_EC_COORDINATE_BYTES = {"ES256": 32, "ES384": 48, "ES512": 66}


def verify(public_key, alg: str, signing_input: bytes, signature: bytes) -> bool:
    try:
        if alg.startswith("RS"):
            public_key.verify(signature, signing_input, padding.PKCS1v15(), _HASHES[alg[2:]]())
        elif alg.startswith("PS"):
            digest = _HASHES[alg[2:]]()
            pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
            public_key.verify(signature, signing_input, pss, digest)
        elif alg in _EC_COORDINATE_BYTES:
            size = _EC_COORDINATE_BYTES[alg]
            # JWS ECDSA signatures are fixed-length r||s (RFC 7518 §3.4); zero r or s
            # is the "psychic signature" (CVE-2022-21449) and is refused outright.
            if len(signature) != 2 * size:
                return False
            r = int.from_bytes(signature[:size], "big")
            s = int.from_bytes(signature[size:], "big")
            if r == 0 or s == 0:
                return False
            der = encode_dss_signature(r, s)
            public_key.verify(der, signing_input, ec.ECDSA(_HASHES[alg[2:]]()))
        elif alg == "EdDSA":
            public_key.verify(signature, signing_input)
        else:
            return False
    except (InvalidSignature, ValueError, TypeError, AttributeError):
        return False
    return True
