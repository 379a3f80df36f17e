"""Validation of a bearer JWT against the servers an API's policy trusts.

The rules are B-E of docs/security.md, Token rules. Parsing is ours and strict (jwcrypto accepts
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
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings

from authservers.keystore import KeysUnavailable, key_store
from core import clock
from core.hot_settings import hot
from proxy import signatures
from proxy.config import PolicyConfig, ServerConfig
from proxy.errors import InvalidToken, IssuerUnavailable
from proxy.headers import claim_header_value

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
    # Claims as header values (proxy/headers.py claim_header_value), worked out on first
    # use: a hot token is cached, and its identity and transformation headers with it.
    header_values: dict = field(default_factory=dict, compare=False, repr=False)

    def header_value(self, claim: str) -> str | None:
        try:
            return self.header_values[claim]
        except KeyError:
            value = self.header_values[claim] = claim_header_value(self.claims.get(claim))
            return value


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


FORMAT_EXPECTED = {"format": "header.payload.signature, each base64url without padding"}


def _check_format(token: str) -> list[str]:
    if JWS_COMPACT.fullmatch(token):
        return token.split(".")
    if looks_base64_wrapped(token):
        detail = "The token is a base64-encoded JWT; send the JWT itself."
    elif token.count(".") == 4:
        detail = "Encrypted tokens (JWE) are not accepted; send a signed JWT (JWS)."
    else:
        detail = "The token is not a compact JWS (three base64url segments)."
    actual = {"format": f"{token.count('.') + 1} segment(s), {len(token)} characters"}
    raise InvalidToken(detail, check="format", expected=FORMAT_EXPECTED, actual=actual)


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
            f"The token type must be {server.required_typ}, not {str(typ)[:40]!r}.",
            check="typ",
            expected={"typ": [server.required_typ, "application/" + server.required_typ]},
            actual={"typ": typ},
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
        raise InvalidToken(
            "The token has no exp claim.",
            check="exp",
            expected={"exp": "a NumericDate; tokens without an expiry are refused"},
            actual={"exp": None},
        )
    if now >= exp + leeway:
        raise InvalidToken(
            "The token has expired.",
            check="exp",
            admin_detail=f"The token expired at {_moment(exp, now)}; with the issuer's "
            f"{leeway} s leeway it was accepted until {_iso(exp + leeway)}.",
            expected={"exp": f"later than {_iso(now - leeway)} (now - {leeway} s leeway)"},
            actual={"exp": _moment(exp, now), "now": _iso(now)},
        )
    nbf = _numeric_date(claims, "nbf")
    if nbf is not None and now < nbf - leeway:
        raise InvalidToken(
            "The token is not valid yet (nbf).",
            check="nbf",
            admin_detail=f"The token is valid from {_moment(nbf, now)}; the issuer allows "
            f"{leeway} s of clock skew. Check the clocks of the issuer and the gateway.",
            expected={"nbf": f"no later than {_iso(now + leeway)} (now + {leeway} s leeway)"},
            actual={"nbf": _moment(nbf, now), "now": _iso(now)},
        )
    iat = _numeric_date(claims, "iat")
    if iat is not None and iat > now + leeway:
        raise InvalidToken(
            "The token was issued in the future (iat).",
            check="iat",
            admin_detail=f"The token says it was issued at {_moment(iat, now)}; the issuer "
            f"allows {leeway} s of clock skew. Check the clocks of the issuer and the gateway.",
            expected={"iat": f"no later than {_iso(now + leeway)} (now + {leeway} s leeway)"},
            actual={"iat": _moment(iat, now), "now": _iso(now)},
        )


def _iso(seconds: float) -> str:
    """A NumericDate as ISO 8601 UTC, for the inspector's expected/actual facts."""
    try:
        return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return f"{seconds:g} (out of range)"


def _span(seconds: float) -> str:
    """A duration in its two largest units: "2 days 3 h", "5 min 20 s"."""
    seconds = abs(seconds)
    if seconds > 100 * 365 * 86400:
        return "over 100 years"
    seconds = int(seconds)
    parts = []
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            count = seconds // size
            parts.append(f"{count} {'day' if unit == 'days' and count == 1 else unit}")
            seconds %= size
    return " ".join(parts[:2])


def _moment(seconds: float, now: float) -> str:
    when = "ago" if seconds <= now else "from now"
    return f"{_iso(seconds)} ({_span(now - seconds)} {when})"


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
        raise InvalidToken(
            "The token has no aud claim for this API.",
            check="aud",
            admin_detail="The token has no aud claim, and its client_id is not one of the "
            "API's audiences either.",
            **_audience_facts(claims, policy),
        )
    aud = claims["aud"]
    values = [aud] if isinstance(aud, str) else aud
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise InvalidToken(
            "The aud claim must be a string or a list of strings.",
            check="aud",
            **_audience_facts(claims, policy),
        )
    if policy.audiences.isdisjoint(values):
        raise InvalidToken(
            "The token is not meant for this API (aud).",
            check="aud",
            admin_detail="None of the token's audiences is one of the API's. Ask the issuer "
            "for a token for one of the expected audiences, or add the token's audience to "
            "the policy.",
            **_audience_facts(claims, policy),
        )


def _audience_facts(claims: dict, policy: PolicyConfig) -> dict:
    actual = {"aud": claims.get("aud")}
    if "aud" not in claims:
        actual["client_id"] = claims.get("client_id")
    return {"expected": {"aud": sorted(policy.audiences)}, "actual": actual}


class VerifiedTokenCache:
    """Bounded LRU of verified tokens; emptied whenever the config changes."""

    def __init__(self, size: int):
        self._size = size
        self._entries: OrderedDict[bytes, VerifiedToken] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0  # published as gatekeep_token_cache_total (proxy/metrics.py)

    def get(self, digest: bytes) -> VerifiedToken | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None:
                self._entries.move_to_end(digest)
                self.hits += 1
            else:
                self.misses += 1
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
    if len(token) > hot.GATEWAY_MAX_TOKEN_BYTES:
        raise InvalidToken("The token is too long.", check="format")
    if not token.isascii():
        # A compact JWS is ASCII; anything else cannot even be hashed for the cache.
        raise InvalidToken(
            "The token is not a compact JWS (three base64url segments).", check="format"
        )
    now = clock.time()
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
    try:
        header_raw = decode_segment(header_segment)
        payload_raw = decode_segment(payload_segment)
        signature = decode_segment(signature_segment)
    except (ValueError, binascii.Error):
        raise InvalidToken(
            "A token segment is not canonical base64url.",
            check="format",
            admin_detail="Three segments, but one is not canonical base64url (padding, "
            "'+' or '/', whitespace, or non-zero trailing bits).",
            expected=FORMAT_EXPECTED,
            actual={"format": f"3 segments, {len(token)} characters, not canonical"},
        ) from None
    # Only now is the format known to be good: one trace entry per check, never two.
    _passed(trace, "format", "Compact JWS with three base64url segments.")
    header = parse_json_object(header_raw, "header", "header")
    alg, kid = _check_header(header)
    _passed(trace, "header", f"alg {alg}, kid {kid!r}.")
    claims = parse_json_object(payload_raw, "payload", "claims")

    iss = claims.get("iss")
    if not isinstance(iss, str):
        raise InvalidToken(
            "The token has no iss claim.",
            check="issuer",
            expected=_trusted(policy),
            actual={"iss": iss},
        )
    server = policy.servers_by_issuer.get(iss)
    if server is None:
        raise InvalidToken(
            "The token's issuer is not trusted by this API.",
            check="issuer",
            admin_detail="The token's iss is not exactly the issuer of any authorization "
            "server this API's policy trusts (the comparison is exact: scheme, case and a "
            "trailing '/' all count).",
            expected=_trusted(policy),
            actual={"iss": iss},
        )
    # Facts for the inspector are built only when it asks (trace) or a check fails.
    if trace is not None:
        _passed(trace, "issuer", f"Trusted issuer {server.name}.", _trusted(policy), {"iss": iss})
    if alg not in server.allowed_algorithms:
        raise InvalidToken(
            f"The algorithm {alg[:20]} is not allowed for this issuer.",
            check="alg",
            admin_detail=f"{server.name} allows only the algorithms listed; the token is "
            f"signed with {alg[:20]}.",
            expected=_allowed(server),
            actual={"alg": alg},
        )
    _check_typ(header, server)
    if trace is not None:
        detail = f"{alg} is allowed; typ is acceptable."
        _passed(trace, "alg", detail, _allowed(server), {"alg": alg})

    keyset = _keyset(server)
    candidates = keyset.candidates(kid, alg)
    if not candidates and kid is not None and kid not in keyset.by_kid:
        # Only an unfamiliar kid may cause a fetch, and at most one per interval.
        keyset = key_store.refresh_for_unknown_kid(server.keys) or keyset
        candidates = keyset.candidates(kid, alg)
    if not candidates:
        if kid is not None and kid in keyset.by_kid:
            raise InvalidToken(
                f"The signing key {kid!r} is not used with {alg}.",
                check="key",
                admin_detail=f"Key {kid!r} of {server.name} is bound to another algorithm; "
                f"each key signs with one algorithm only.",
                expected={"kid": kid, "alg": sorted(keyset.by_kid[kid].algorithms)},
                actual={"kid": kid, "alg": alg},
            )
        raise InvalidToken(
            "The token's signing key is unknown to the issuer's key set.",
            check="key",
            admin_detail=f"The token's kid is not in the key set of {server.name}, even after "
            "a refresh (at most one per interval). The issuer may have rotated keys, or the "
            "token comes from another environment.",
            expected=_known(keyset),
            actual={"kid": kid},
        )
    if trace is not None:
        detail = f"Key {candidates[0].kid!r} of {server.name}."
        _passed(trace, "key", detail, _known(keyset), {"kid": kid})
    signing_input = f"{header_segment}.{payload_segment}".encode()
    if not any(
        signatures.verify(key.public_key, alg, signing_input, signature) for key in candidates
    ):
        raise InvalidToken(
            "The token signature does not verify.",
            check="signature",
            admin_detail=f"The signature does not match with key(s) "
            f"{', '.join(repr(k.kid) for k in candidates)} of {server.name}: the token was "
            "altered, or signed with a different key that reuses the kid.",
            actual={"kid": kid, "alg": alg},
        )
    _passed(trace, "signature", "Signature verified.")

    check_time_claims(claims, server.leeway_seconds, now)
    if trace is not None:
        times = {
            name: _moment(claims[name], now)
            for name in ("exp", "nbf", "iat")
            if isinstance(claims.get(name), int | float)
        }
        leeway = {"leeway": f"{server.leeway_seconds} s", "now": _iso(now)}
        _passed(trace, "lifetime", "exp, nbf and iat are within the leeway.", leeway, times)
    check_audience(claims, policy)
    if trace is not None:
        facts = _audience_facts(claims, policy)
        _passed(trace, "aud", "The token is meant for this API.", **facts)
    verified = VerifiedToken(server, header, claims, _scopes(claims), keyset.version)
    verified_tokens.put(digest, verified)
    return verified


def _trusted(policy: PolicyConfig) -> dict:
    return {"iss": sorted(policy.servers_by_issuer)}


def _allowed(server: ServerConfig) -> dict:
    return {"alg": sorted(server.allowed_algorithms)}


def _known(keyset) -> dict:
    return {"kid": sorted(keyset.by_kid)}


def _passed(
    trace: list | None,
    check: str,
    detail: str,
    expected: dict | None = None,
    actual: dict | None = None,
) -> None:
    if trace is not None:
        step = {"check": check, "ok": True, "detail": detail}
        if expected is not None or actual is not None:
            step.update(expected=expected, actual=actual)
        trace.append(step)
