"""Validation of a bearer JWT against the servers an API's policy trusts.

The rules are SECURITY.md §1 B-E. Parsing is ours and strict (jwcrypto accepts
non-canonical base64 and "last one wins" JSON); the key comes only from the
trusted issuer's cached key set, bound to its algorithms; time claims must be
finite numbers. A verified token is cached per process until it expires, keyed
by a hash of the token and the key-set version, so a hot token costs one
signature check per process.
"""

import base64
import binascii
import hashlib
import json
import math
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings

from authservers.keystore import KeysUnavailable, key_store

from . import signatures
from .config import PolicyConfig, ServerConfig
from .errors import InvalidToken, IssuerUnavailable

# Always used with fullmatch(): "$" would also match before a trailing newline.
JWS_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
MAX_KID_LENGTH = 256


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    server: ServerConfig
    header: dict
    claims: dict
    scopes: frozenset[str]
    keyset_version: str


def decode_segment(segment: str) -> bytes:
    """Strict, canonical base64url without padding (RFC 7515 §2)."""
    if len(segment) % 4 == 1 or not _BASE64URL.fullmatch(segment):
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    # Reject non-zero trailing bits: two spellings of one signature make tokens malleable.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != segment:
        raise ValueError("non-canonical base64url")
    return raw


def _refuse_duplicates(pairs: list[tuple[str, object]]) -> dict:
    result = {}
    for name, value in pairs:
        if name in result:
            raise ValueError(f"duplicate member {name[:40]!r}")
        result[name] = value
    return result


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_json_object(raw: bytes, what: str, check: str) -> dict:
    try:
        value = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_refuse_duplicates,
            parse_constant=_refuse_constant,
        )
    except UnicodeDecodeError:
        raise InvalidToken(f"The token {what} is not UTF-8.", check=check) from None
    except RecursionError:
        raise InvalidToken(f"The token {what} is nested too deeply.", check=check) from None
    except ValueError as exc:
        raise InvalidToken(f"The token {what} is not valid JSON ({exc}).", check=check) from None
    if not isinstance(value, dict):
        raise InvalidToken(f"The token {what} is not a JSON object.", check=check)
    if b"\\u" in raw and not _is_valid_unicode(value):
        # "\ud800" decodes to a lone surrogate, which no header or log line can encode
        # (I-JSON, RFC 7493 §2.1): refuse it here rather than fail later with a 500.
        raise InvalidToken(f"The token {what} contains an unpaired surrogate.", check=check)
    return value


def _is_valid_unicode(value: object) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        return False
    return True


def looks_base64_wrapped(token: str) -> bool:
    """True for base64(jwt): a mistake clients make that deserves its own message."""
    candidate = token.strip()
    if len(candidate) < 20:
        return False
    try:
        decoded = base64.b64decode(candidate + "=" * (-len(candidate) % 4), altchars=b"-_")
        return bool(JWS_COMPACT.fullmatch(decoded.decode("ascii").strip()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False


def _check_format(token: str) -> list[str]:
    if JWS_COMPACT.fullmatch(token):
        return token.split(".")
    if looks_base64_wrapped(token):
        detail = "The token is a base64-encoded JWT; send the JWT itself."
    elif token.count(".") == 4:
        detail = "Encrypted tokens (JWE) are not accepted; send a signed JWT (JWS)."
    else:
        detail = "The token is not a compact JWS (three base64url segments)."
    raise InvalidToken(detail, check="format")


def _check_header(header: dict) -> tuple[str, str | None]:
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise InvalidToken("The token header has no valid alg.", check="header")
    if alg.lower() == "none":
        raise InvalidToken("Unsigned tokens (alg none) are never accepted.", check="header")
    if "crit" in header:
        raise InvalidToken(
            "The token uses critical header parameters we do not support.", check="header"
        )
    if "enc" in header or "zip" in header:
        raise InvalidToken("Encrypted or compressed tokens are not accepted.", check="header")
    if "b64" in header:
        raise InvalidToken("Unencoded-payload tokens (b64) are not accepted.", check="header")
    cty = header.get("cty")
    if isinstance(cty, str) and cty.lower() in {"jwt", "application/jwt"}:
        raise InvalidToken("Nested tokens (cty JWT) are not accepted.", check="header")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH):
        raise InvalidToken("The token's kid must be a short string.", check="header")
    # jku, x5u, jwk and x5c are never read: keys come only from the issuer's configured key set.
    return alg, kid


def _check_typ(header: dict, server: ServerConfig) -> None:
    if not server.required_typ:
        return
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in {
        server.required_typ,
        "application/" + server.required_typ,
    }:
        raise InvalidToken(
            f"The token type must be {server.required_typ}, not {str(typ)[:40]!r}.", check="typ"
        )


def _numeric_date(claims: dict, name: str) -> float | None:
    value = claims.get(name)
    if value is None and name not in claims:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"The {name} claim must be a number of seconds.", check=name)
    try:
        seconds = float(value)  # an int beyond 1e308 raises OverflowError
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds):
        raise InvalidToken(f"The {name} claim must be a finite number of seconds.", check=name)
    return seconds


def check_time_claims(claims: dict, leeway: int, now: float) -> None:
    exp = _numeric_date(claims, "exp")
    if exp is None:
        raise InvalidToken("The token has no exp claim.", check="exp")
    if now >= exp + leeway:
        raise InvalidToken("The token has expired.", check="exp")
    nbf = _numeric_date(claims, "nbf")
    if nbf is not None and now < nbf - leeway:
        raise InvalidToken("The token is not valid yet (nbf).", check="nbf")
    iat = _numeric_date(claims, "iat")
    if iat is not None and iat > now + leeway:
        raise InvalidToken("The token was issued in the future (iat).", check="iat")


def _scopes(claims: dict) -> frozenset[str]:
    scopes: set[str] = set()
    scope = claims.get("scope")
    if scope is not None:
        if not isinstance(scope, str):
            raise InvalidToken("The scope claim must be a space-separated string.", check="claims")
        scopes.update(scope.split())
    scp = claims.get("scp")
    if scp is not None:
        if isinstance(scp, str):
            scp = scp.split()
        if not isinstance(scp, list) or not all(isinstance(item, str) for item in scp):
            raise InvalidToken("The scp claim must be a list of strings.", check="claims")
        scopes.update(scp)
    return frozenset(scopes)


def check_audience(claims: dict, policy: PolicyConfig) -> None:
    if "aud" not in claims:
        # AWS rule: without aud, the client_id must be one of the audiences.
        client_id = claims.get("client_id")
        if isinstance(client_id, str) and client_id in policy.audiences:
            return
        raise InvalidToken("The token has no aud claim for this API.", check="aud")
    aud = claims["aud"]
    values = [aud] if isinstance(aud, str) else aud
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise InvalidToken("The aud claim must be a string or a list of strings.", check="aud")
    if policy.audiences.isdisjoint(values):
        raise InvalidToken("The token is not meant for this API (aud).", check="aud")


class VerifiedTokenCache:
    """Bounded LRU of verified tokens; emptied whenever the config changes."""

    def __init__(self, size: int):
        self._size = size
        self._entries: OrderedDict[bytes, VerifiedToken] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: bytes) -> VerifiedToken | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None:
                self._entries.move_to_end(digest)
            return entry

    def put(self, digest: bytes, token: VerifiedToken) -> None:
        with self._lock:
            self._entries[digest] = token
            self._entries.move_to_end(digest)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


verified_tokens = VerifiedTokenCache(settings.GATEWAY_VERIFIED_TOKEN_CACHE_SIZE)


def _keyset(server: ServerConfig):
    try:
        return key_store.keyset(server.keys)
    except KeysUnavailable as exc:
        raise IssuerUnavailable(
            str(exc), check="keys", headers={"Retry-After": str(exc.retry_after)}
        ) from None


def validate_token(token: str, policy: PolicyConfig, trace: list | None = None) -> VerifiedToken:
    """The verified token, or a GatewayError saying precisely what is wrong."""
    if len(token) > settings.GATEWAY_MAX_TOKEN_BYTES:
        raise InvalidToken("The token is too long.", check="format")
    if not token.isascii():
        # A compact JWS is ASCII; anything else cannot even be hashed for the cache.
        raise InvalidToken(
            "The token is not a compact JWS (three base64url segments).", check="format"
        )
    now = time.time()
    digest = hashlib.sha256(token.encode()).digest()
    cached = verified_tokens.get(digest)
    if cached is not None and trace is None:
        server = policy.servers_by_issuer.get(cached.claims["iss"])
        # The cached verdict holds while the issuer is trusted here and its keys are unchanged.
        if server is cached.server and _keyset(server).version == cached.keyset_version:
            check_time_claims(cached.claims, server.leeway_seconds, now)
            check_audience(cached.claims, policy)
            return cached

    header_segment, payload_segment, signature_segment = _check_format(token)
    _passed(trace, "format", "Compact JWS with three base64url segments.")
    try:
        header_raw = decode_segment(header_segment)
        payload_raw = decode_segment(payload_segment)
        signature = decode_segment(signature_segment)
    except (ValueError, binascii.Error):
        raise InvalidToken("A token segment is not canonical base64url.", check="format") from None
    header = parse_json_object(header_raw, "header", "header")
    alg, kid = _check_header(header)
    _passed(trace, "header", f"alg {alg}, kid {kid!r}.")
    claims = parse_json_object(payload_raw, "payload", "claims")

    iss = claims.get("iss")
    if not isinstance(iss, str):
        raise InvalidToken("The token has no iss claim.", check="issuer")
    server = policy.servers_by_issuer.get(iss)
    if server is None:
        raise InvalidToken("The token's issuer is not trusted by this API.", check="issuer")
    _passed(trace, "issuer", f"Trusted issuer {server.name}.")
    if alg not in server.allowed_algorithms:
        raise InvalidToken(f"The algorithm {alg[:20]} is not allowed for this issuer.", check="alg")
    _check_typ(header, server)
    _passed(trace, "alg", f"{alg} is allowed; typ is acceptable.")

    keyset = _keyset(server)
    candidates = keyset.candidates(kid, alg)
    if not candidates and kid is not None and kid not in keyset.by_kid:
        # Only an unfamiliar kid may cause a fetch, and at most one per interval.
        keyset = key_store.refresh_for_unknown_kid(server.keys) or keyset
        candidates = keyset.candidates(kid, alg)
    if not candidates:
        if kid is not None and kid in keyset.by_kid:
            raise InvalidToken(f"The signing key {kid!r} is not used with {alg}.", check="key")
        raise InvalidToken(
            "The token's signing key is unknown to the issuer's key set.", check="key"
        )
    _passed(trace, "key", f"Key {candidates[0].kid!r} of {server.name}.")
    signing_input = f"{header_segment}.{payload_segment}".encode()
    if not any(
        signatures.verify(key.public_key, alg, signing_input, signature) for key in candidates
    ):
        raise InvalidToken("The token signature does not verify.", check="signature")
    _passed(trace, "signature", "Signature verified.")

    check_time_claims(claims, server.leeway_seconds, now)
    _passed(trace, "lifetime", "exp, nbf and iat are within the leeway.")
    check_audience(claims, policy)
    _passed(trace, "aud", "The token is meant for this API.")
    verified = VerifiedToken(server, header, claims, _scopes(claims), keyset.version)
    verified_tokens.put(digest, verified)
    return verified


def _passed(trace: list | None, check: str, detail: str) -> None:
    if trace is not None:
        trace.append({"check": check, "ok": True, "detail": detail})
