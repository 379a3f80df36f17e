"""docs/security.md, Attack catalogue round 1, cases 1-40, end to end: real HTTP through
the gateway to a counting upstream.

Every variant asserts the status and problem `code`, that the upstream's hit
counter did not move (or moved by one for the variants that must pass), that no
request left for a `jku`/`x5u` URL (a loopback listener counts accepted
connections), that nothing answered 5xx, and that the original good token still
works afterwards.
"""

import base64
import json
import resource
import secrets
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from authservers.models import AuthorizationServer, JwksSnapshot
from authservers.services import refresh_jwks
from tests.production import raw_exchange
from tests.security.forge import (
    b64url,
    certificate_der_b64,
    deflate_bomb,
    hs256,
    jwe_compact,
    nested,
    public_key_forms,
    unsigned,
)
from tests.security.realm import call_in_thread
from tests.servers import JwksServer, ScriptedServer, read_request_head
from tests.tokens import claims_for, new_ec_key, new_rsa_key, sign, sign_raw

# --- the harness ---------------------------------------------------------------------


@dataclass
class Attack:
    """One hostile request. `token` goes out as `Authorization: Bearer <token>`."""

    token: str | None = None
    authorization: str | None = None  # the whole header value, when not "Bearer <token>"
    headers: dict = field(default_factory=dict)
    params: dict | None = None
    method: str = "GET"
    path: str = "/pets"
    data: bytes | None = None
    raw: bytes | None = None  # a complete HTTP/1.1 request, for what requests cannot send


@dataclass
class Expect:
    status: int | set[int]  # 0: the server reset the connection without an answer
    code: str | None = None  # None: refused by the HTTP server itself, before the gateway
    forwarded: bool = False  # True: a legitimate variant that must reach the upstream
    check: Callable[["Reply"], None] | None = None  # more assertions on this reply
    max_seconds: float = 10.0

    def statuses(self) -> set[int]:
        return self.status if isinstance(self.status, set) else {self.status}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class Target:
    """The published API plus everything a case may need to set up."""

    def __init__(self, published, listener, django_assert_num_queries):
        self.published = published
        self.listener = listener
        self.assert_num_queries = django_assert_num_queries
        self.issuer = published.idp.issuer
        self.good = published.token()
        self.extra_servers: list = []
        self.after_checks: list[Callable[[], None]] = []  # run once, after every variant
        self.query_mode = False  # tokens travel as ?access_token= instead of a header

    def after(self, check: Callable[[], None]) -> None:
        self.after_checks.append(check)

    def use_query_token(self) -> None:
        """Switch the API's identity source to ?access_token=, as some clients need."""
        from apis.models import IdentifyAndAuthorizePolicy

        policy = IdentifyAndAuthorizePolicy.objects.get(api=self.published.api)
        policy.identity_source, policy.identity_name = "query", "access_token"
        policy.save()
        self.published.gateway_wait_for_reload()
        self.query_mode = True

    def claims(self, **overrides) -> dict:
        return claims_for(self.issuer, **overrides)

    def token(self, key=None, header: dict | None = None, alg: str | None = None, **claims):
        return self.published.token(key=key, header=header, alg=alg, **claims)

    def signed_text(self, header: dict | str, payload: dict | str | bytes, key=None) -> str:
        return sign_raw(key or self.published.rsa_key, header, payload)

    def refresh_keys(self) -> None:
        """What Celery beat does: fetch the IdP's key set now, then let the gateway see it."""
        from authservers.keystore import key_store

        refresh_jwks(self.published.server)
        key_store.forget()

    def change_server(self, **fields) -> None:
        AuthorizationServer.objects.filter(pk=self.published.server.pk).update(**fields)
        self.published.server.refresh_from_db()
        self.published.server.save()  # moves the config version like any admin change
        self.published.gateway_wait_for_reload()

    def send(self, attack: Attack) -> Reply:
        if attack.raw is not None:
            data, _ = raw_exchange(self.published.gateway.port, attack.raw, until_close=False)
            if not data:
                return Reply(0, {}, b"")  # reset before answering
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = CaseInsensitiveDict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            return Reply(int(lines[0].split(" ")[1]), headers, body)
        headers, params = dict(attack.headers), dict(attack.params or {})
        if attack.authorization is not None:
            headers["Authorization"] = attack.authorization
        elif attack.token is not None and self.query_mode:
            params["access_token"] = attack.token
        elif attack.token is not None:
            headers["Authorization"] = f"Bearer {attack.token}"
        response = requests.request(
            attack.method,
            self.published.url + attack.path,
            headers=headers,
            params=params,
            data=attack.data,
            timeout=30,
        )
        return Reply(response.status_code, CaseInsensitiveDict(response.headers), response.content)


def raw_request(
    target: Target, *header_lines: str, method: str = "GET", body: bytes = b""
) -> bytes:
    head = [f"{method} /gateway{target.published.api.base_path}/pets HTTP/1.1", "Host: t"]
    lines = [*head, *header_lines, "Connection: close"]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@pytest.fixture
def listener():
    """Where jku/x5u point: serves the attacker's key set and counts every connection."""
    attacker = new_rsa_key("attacker")
    document = json.dumps({"keys": [attacker.export_public(as_dict=True)]}).encode()

    def serve(conn, upstream):
        read_request_head(conn)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(document)}\r\n\r\n".encode()
            + document
        )

    server = ScriptedServer(serve)
    server.attacker_key = attacker
    yield server
    server.stop()


@pytest.fixture
def target(published, listener, django_assert_num_queries):
    target = Target(published, listener, django_assert_num_queries)
    yield target
    for server in target.extra_servers:
        server.stop()


# --- the catalogue -------------------------------------------------------------------


def now() -> int:
    """Tokens are built when a case runs, never at collection time."""
    return int(time.time())


def c01(t: Target):
    def bare_challenge(reply: Reply) -> None:
        assert reply.headers["WWW-Authenticate"] == 'Bearer realm="gatekeep"'

    missing = Expect(401, "missing_token", check=bare_challenge)
    yield "no-header", Attack(), missing
    yield "basic-scheme", Attack(authorization="Basic dXNlcjpwYXNz"), missing
    yield "bearer-and-nothing", Attack(authorization="Bearer"), missing
    yield "bearer-and-spaces", Attack(authorization="Bearer    "), missing


def c02(t: Target):
    yield (
        "two-authorization-headers",
        Attack(
            raw=raw_request(t, f"Authorization: Bearer {t.good}", f"Authorization: Bearer {t.good}")
        ),
        Expect(400, "invalid_request"),
    )
    yield (
        "header-and-query",
        Attack(token=t.good, params={"access_token": t.good}),
        Expect(400, "invalid_request"),
    )
    yield (
        "header-and-form-body",
        Attack(
            token=t.good,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            data=f"name=rex&access_token={t.good}".encode(),
        ),
        Expect(400, "invalid_request"),
    )


def c03(t: Target):
    yield "lowercase-scheme", Attack(authorization=f"bearer {t.good}"), Expect(200, forwarded=True)
    yield "two-spaces", Attack(authorization=f"Bearer  {t.good}"), Expect(200, forwarded=True)
    yield "tab-separator", Attack(authorization=f"Bearer\t{t.good}"), Expect(401, "invalid_token")
    head, rest = t.good[:40], t.good[40:]
    yield (
        "space-inside",
        Attack(authorization=f"Bearer {head} {rest}"),
        Expect(401, "invalid_token"),
    )
    yield (
        "newline-inside",
        Attack(raw=raw_request(t, f"Authorization: Bearer {head}\n{rest}")),
        Expect({400, 401}),
    )
    # runserver unfolds the line; gunicorn refuses obs-fold outright (tests/faults).
    yield (
        "obs-fold",
        Attack(raw=raw_request(t, "Authorization: Bearer", f" {t.good}")),
        Expect({400, 401}),
    )


def c04(t: Target):
    header, payload, signature = t.good.split(".")
    yield (
        "padded-signature",
        Attack(token=f"{header}.{payload}.{signature}=="),
        Expect(401, "invalid_token"),
    )
    swapped = signature.replace("-", "+").replace("_", "/")
    if swapped == signature:
        swapped = signature[:-1] + "+"
    yield (
        "plus-slash-alphabet",
        Attack(token=f"{header}.{payload}.{swapped}"),
        Expect(401, "invalid_token"),
    )
    # A header cannot carry "\n": send it where it can travel, in ?access_token=.
    t.use_query_token()
    broken = f"{signature[:20]}\n   {signature[20:]}"
    yield (
        "newline-and-spaces-in-signature",
        Attack(token=f"{header}.{payload}.{broken}"),
        Expect(401, "invalid_token"),
    )
    yield "trailing-newline", Attack(token=f"{t.good}\n"), Expect(401, "invalid_token")


def c05(t: Target):
    def huge(size: int) -> str:
        return t.good + "A" * (size - len(t.good))

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def memory_flat() -> None:
        grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
        assert grown_kb < 20 * 1024, f"peak RSS grew {grown_kb} KB"

    t.after(memory_flat)
    # Over 8190 bytes a header field is refused by the data plane's parser (rule A5); the
    # token cap (8 KiB) answers 401 for shorter ones
    # (tests/security/test_token_extraction_and_parsing.py).
    yield "9-kb", Attack(token=huge(9 * 1024)), Expect(431)
    # With 1 MB still in flight the server may reset the connection instead (status 0).
    for size, label in ((64 * 1024, "64-kb"), (1024 * 1024, "1-mb")):
        raw = raw_request(t, f"Authorization: Bearer {huge(size)}")
        for _ in range(5):
            yield label, Attack(raw=raw), Expect({0, 400, 431})


def c06(t: Target):
    claims = t.claims()
    yield (
        "header-nested-2500",
        Attack(token=unsigned(nested(2500), claims, b"x")),
        Expect(401, "invalid_token"),
    )
    yield (
        "payload-nested-2500",
        Attack(token=t.signed_text({"alg": "RS256", "kid": "rsa-1"}, nested(2500))),
        Expect(401, "invalid_token"),
    )
    yield "header-array", Attack(token=unsigned("[]", claims, b"x")), Expect(401, "invalid_token")
    yield "header-null", Attack(token=unsigned("null", claims, b"x")), Expect(401, "invalid_token")
    yield (
        "payload-array",
        Attack(token=t.signed_text({"alg": "RS256", "kid": "rsa-1"}, "[1]")),
        Expect(401, "invalid_token"),
    )
    bad_header = b'{"alg":"RS256","kid":"\xff\xfe"}'
    not_utf8 = f"{b64url(bad_header)}.{b64url(json.dumps(claims))}.{b64url(b'x')}"
    yield "header-not-utf8", Attack(token=not_utf8), Expect(401, "invalid_token")
    yield (
        "payload-not-utf8",
        Attack(token=t.signed_text({"alg": "RS256", "kid": "rsa-1"}, b'{"iss":"\xc3\x28"}')),
        Expect(401, "invalid_token"),
    )
    yield (
        "lone-surrogate-claim",
        Attack(
            token=t.signed_text(
                {"alg": "RS256", "kid": "rsa-1"}, json.dumps(claims)[:-1] + ', "sub": "\\ud800"}'
            )
        ),
        Expect(401, "invalid_token"),
    )


def c07(t: Target):
    wrapped = base64.b64encode(t.good.encode()).decode()
    yield "base64-of-jwt", Attack(token=wrapped), Expect(401, "invalid_token")
    yield "base64url-of-jwt", Attack(token=b64url(t.good)), Expect(401, "invalid_token")
    nested_token = t.signed_text({"alg": "RS256", "kid": "rsa-1", "cty": "JWT"}, t.good)
    yield "cty-jwt-nesting", Attack(token=nested_token), Expect(401, "invalid_token")


def c08(t: Target):
    yield (
        "five-segments",
        Attack(token=jwe_compact({"alg": "RSA-OAEP", "enc": "A256GCM"})),
        Expect(401, "invalid_token"),
    )
    header, payload, signature = t.good.split(".")
    general = json.dumps(
        {"payload": payload, "signatures": [{"protected": header, "signature": signature}]}
    )
    # In a header its commas read as two joined credentials: refused as invalid_request.
    yield "json-serialization-in-header", Attack(token=general), Expect(400, "invalid_request")
    t.use_query_token()  # in ?access_token= the JSON reaches the token parser itself
    yield "json-serialization", Attack(token=general), Expect(401, "invalid_token")
    flattened = json.dumps({"payload": payload, "protected": header, "signature": signature})
    yield "flattened-json", Attack(token=flattened), Expect(401, "invalid_token")
    # CVE-2022-39227 shape: compact text that also carries a JSON serialization.
    polyglot = json.dumps(
        {
            f"{header}.{payload}.": "",
            "protected": header,
            "payload": payload,
            "signature": signature,
        }
    )
    yield "compact-json-polyglot", Attack(token=polyglot), Expect(401, "invalid_token")


def c09(t: Target):
    claims = t.claims()
    kept = t.good.rsplit(".", 1)[1]
    for alg in ("none", "None", "NONE", "nOnE"):
        token = unsigned({"alg": alg, "kid": "rsa-1", "typ": "JWT"}, claims)
        yield f"{alg}-empty-signature", Attack(token=token), Expect(401, "invalid_token")
        yield (
            f"{alg}-no-signature-segment",
            Attack(token=token.rstrip(".")),
            Expect(401, "invalid_token"),
        )
        yield f"{alg}-old-signature-kept", Attack(token=token + kept), Expect(401, "invalid_token")


def c10(t: Target):
    _, payload, signature = t.good.split(".")
    for name, header in [
        ("alg-missing", {"kid": "rsa-1"}),
        ("alg-list", {"alg": ["RS256"], "kid": "rsa-1"}),
        ("alg-null", {"alg": None, "kid": "rsa-1"}),
        ("alg-number", {"alg": 5, "kid": "rsa-1"}),
        ("alg-empty", {"alg": "", "kid": "rsa-1"}),
    ]:
        token = f"{b64url(json.dumps(header))}.{payload}.{signature}"
        yield name, Attack(token=token), Expect(401, "invalid_token")


def c11(t: Target):
    claims = t.claims()
    for name, secret in public_key_forms(t.published.rsa_key).items():
        for kid in ("rsa-1", None):
            header = {"alg": "HS256", "typ": "JWT"} | ({"kid": kid} if kid else {})
            yield (
                f"hs256-keyed-with-{name}-kid-{kid}",
                Attack(token=hs256(header, claims, secret)),
                Expect(401, "invalid_token"),
            )


def c12(t: Target):
    marked = new_rsa_key("rsa-ps", alg="PS256")
    t.published.idp.keys = [*t.published.idp.keys, marked]
    t.refresh_keys()
    yield (
        "rs256-with-a-ps256-key",
        Attack(token=t.token(key=marked, alg="RS256")),
        Expect(401, "invalid_token"),
    )
    yield (
        "ps256-with-the-ps256-key",
        Attack(token=t.token(key=marked, alg="PS256")),
        Expect(200, forwarded=True),
    )


def c13(t: Target):
    claims = t.claims()
    words = ["", "secret", "password", "123456", "changeme", "gatekeep", t.issuer, "rsa-1"]
    for word in words:
        label = word.replace("http://", "").replace(":", "-") or "empty"
        token = hs256({"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}, claims, word.encode())
        yield f"hs256-{label}", Attack(token=token), Expect(401, "invalid_token")


def c14(t: Target):
    weak = new_rsa_key("weak-1024", size=1024)
    t.published.idp.keys = [*t.published.idp.keys, weak]

    def refused_at_import(reply: Reply) -> None:
        snapshot = JwksSnapshot.objects.get(server=t.published.server)
        assert "weak-1024" not in snapshot.key_ids
        assert "'weak-1024': RSA key of 1024 bits" in snapshot.last_error
        assert snapshot.last_error_at is not None

    yield (
        "token-signed-with-rsa-1024",
        Attack(token=t.token(key=weak)),
        Expect(401, "invalid_token", check=refused_at_import),
    )


def c15(t: Target):
    header, payload, _ = t.good.split(".")
    yield "empty-signature", Attack(token=f"{header}.{payload}."), Expect(401, "invalid_token")
    yield "two-segments", Attack(token=f"{header}.{payload}"), Expect(401, "invalid_token")
    yield "aaaa-signature", Attack(token=f"{header}.{payload}.AAAA"), Expect(401, "invalid_token")


def c16(t: Target):
    header, payload, signature = t.good.split(".")
    yield (
        "last-four-dropped",
        Attack(token=f"{header}.{payload}.{signature[:-4]}"),
        Expect(401, "invalid_token"),
    )
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[len(raw) // 2] ^= 0x01
    yield (
        "one-bit-flipped",
        Attack(token=f"{header}.{payload}.{b64url(bytes(raw))}"),
        Expect(401, "invalid_token"),
    )
    claims = dict(t.claims(), scope="pets:read pets:write admin")
    yield (
        "payload-swapped",
        Attack(token=f"{header}.{b64url(json.dumps(claims))}.{signature}"),
        Expect(401, "invalid_token"),
    )


def c17(t: Target):
    header = {"alg": "ES256", "kid": "ec-1", "typ": "JWT"}
    claims = t.claims()
    for name, signature in [
        ("zero-r-and-s", b"\x00" * 64),
        ("der-zeros", bytes.fromhex("3006020100020100")),
        ("ten-bytes", b"\x00" * 10),
        (
            "r-and-s-equal-n",
            bytes.fromhex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551" * 2),
        ),
    ]:
        yield name, Attack(token=unsigned(header, claims, signature)), Expect(401, "invalid_token")


def c18(t: Target):
    claims = t.claims()
    opened = _watch_opens()

    def no_file_opened() -> None:
        assert not [path for path in opened if "dev/null" in path or "passwd" in path], opened

    t.after(no_file_opened)
    for kid in ("../../../../dev/null", "/dev/null", "/etc/passwd", "file:///dev/null"):
        label = kid.strip("./").replace("/", "-").replace(":", "")
        yield (
            f"hs256-empty-key-{label}",
            Attack(token=hs256({"alg": "HS256", "kid": kid}, claims, b"")),
            Expect(401, "invalid_token"),
        )
        yield (
            f"rs256-{label}",
            Attack(token=t.token(header={"kid": kid})),
            Expect(401, "invalid_token"),
        )


_OPENED: list[str] | None = None


def _watch_opens() -> list[str]:
    """Record every file the process opens from now on (audit hooks cannot be removed)."""
    global _OPENED
    if _OPENED is None:
        _OPENED = []

        def hook(event: str, args: tuple) -> None:
            if event == "open" and _OPENED is not None and isinstance(args[0], str):
                _OPENED.append(args[0])

        sys.addaudithook(hook)
    _OPENED.clear()
    return _OPENED


def c19(t: Target):
    claims = t.claims()
    kid = "x' UNION SELECT '1';--"
    yield (
        "hs256-keyed-with-1",
        Attack(token=hs256({"alg": "HS256", "kid": kid}, claims, b"1")),
        Expect(401, "invalid_token"),
    )
    token = t.token(header={"kid": kid})

    def no_query() -> None:
        # The same token again, in this thread: the unknown-kid refresh is spent, and the
        # kid reaches no SQL at all.
        with t.assert_num_queries(0):
            status = call_in_thread(f"/gateway{t.published.api.base_path}/pets", token)
        assert status.startswith("401")

    t.after(no_query)
    yield "rs256-sql-kid", Attack(token=token), Expect(401, "invalid_token")


def c20(t: Target):
    for kid in ("|sleep 10", "$(sleep 10)", "`sleep 10`; rm -rf /"):
        token = t.token(header={"kid": kid})
        yield kid, Attack(token=token), Expect(401, "invalid_token", max_seconds=1.0)


def c21(t: Target):
    for name, kid in [
        ("int", 7),
        ("dict", {"kid": "rsa-1"}),
        ("list", ["rsa-1"]),
        ("empty", ""),
        ("300-chars", "k" * 300),
        ("5-kb", "k" * 5 * 1024),
    ]:
        yield (
            name,
            Attack(token=t.signed_text({"alg": "RS256", "kid": kid}, t.claims())),
            Expect(401, "invalid_token"),
        )
    # A 10 KB kid makes the header field too long for the data plane's parser.
    yield (
        "10-kb",
        Attack(token=t.signed_text({"alg": "RS256", "kid": "k" * 10 * 1024}, t.claims())),
        Expect(431),
    )


def c22(t: Target):
    fetches_before = t.published.idp.hits
    forged = [
        unsigned({"alg": "RS256", "kid": uuid.uuid4().hex}, t.claims(), secrets.token_bytes(256))
        for _ in range(1000)
    ]
    statuses: list[int] = []

    def flood() -> None:
        url = t.published.url + "/pets"

        def one(token: str) -> int:
            return requests.get(
                url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ).status_code

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=50) as pool:
            statuses.extend(pool.map(one, forged))
        assert time.monotonic() - started < 30  # one refresh window
        assert set(statuses) == {401}
        assert t.published.idp.hits - fetches_before <= 1

    t.after(flood)
    yield (
        "random-kid-then-1000-more-50-concurrent",
        Attack(token=forged[0]),
        Expect(401, "invalid_token"),
    )


def c23(t: Target):
    attacker = t.listener.attacker_key
    claims = t.claims()
    url = t.listener.url
    yield (
        "jku",
        Attack(token=sign(attacker, claims, {"jku": f"{url}/jwks.json"})),
        Expect(401, "invalid_token"),
    )
    yield (
        "x5u",
        Attack(token=sign(attacker, claims, {"x5u": f"{url}/cert.pem"})),
        Expect(401, "invalid_token"),
    )
    yield (
        "jku-with-the-real-kid",
        Attack(token=sign(attacker, claims, {"jku": f"{url}/jwks.json", "kid": "rsa-1"})),
        Expect(401, "invalid_token"),
    )


def c24(t: Target):
    attacker = new_rsa_key("rsa-1")  # the real kid, the attacker's key material
    embedded = attacker.export_public(as_dict=True)
    claims = t.claims()
    yield (
        "jwk-real-kid",
        Attack(token=sign(attacker, claims, {"jwk": embedded})),
        Expect(401, "invalid_token"),
    )
    yield (
        "jwk-no-kid",
        Attack(token=sign(attacker, claims, {"jwk": embedded, "kid": None})),
        Expect(401, "invalid_token"),
    )
    x5c = [certificate_der_b64(attacker)]
    yield (
        "x5c-real-kid",
        Attack(token=sign(attacker, claims, {"x5c": x5c})),
        Expect(401, "invalid_token"),
    )
    yield (
        "x5c-no-kid",
        Attack(token=sign(attacker, claims, {"x5c": x5c, "kid": None})),
        Expect(401, "invalid_token"),
    )


def c25(t: Target):
    claims = t.claims()
    # RFC 7797 unencoded payload: built by hand (jwcrypto would emit the raw JSON payload).
    _, payload, signature = t.good.split(".")
    b64_false = {"alg": "RS256", "kid": "rsa-1", "crit": ["b64"], "b64": False}
    yield (
        "crit-b64-false",
        Attack(token=f"{b64url(json.dumps(b64_false))}.{payload}.{signature}"),
        Expect(401, "invalid_token"),
    )
    for name, extra in [
        ("crit-exp", {"crit": ["exp"], "exp": now() + 60}),
        ("crit-string", {"crit": "x"}),
        ("crit-empty", {"crit": []}),
    ]:
        token = t.signed_text({"alg": "RS256", "kid": "rsa-1", **extra}, claims)
        yield name, Attack(token=token), Expect(401, "invalid_token")


def c26(t: Target):
    other = JwksServer()
    t.extra_servers.append(other)
    b_key, b_same_kid = new_rsa_key("b-1"), new_rsa_key("rsa-1")
    other.keys = [b_key]
    server_b = AuthorizationServer.objects.create(
        name="IdP B", kind="external", issuer=other.issuer
    )
    t.published.api.policy.authorization_servers.add(server_b)
    t.published.gateway_wait_for_reload()
    claims_a = t.claims()
    yield "iss-a-signed-by-b", Attack(token=sign(b_key, claims_a)), Expect(401, "invalid_token")
    other.keys = [b_key, b_same_kid]
    yield (
        "iss-a-signed-by-b-with-a-kid",
        Attack(token=sign(b_same_kid, claims_a)),
        Expect(401, "invalid_token"),
    )
    yield (
        "iss-b-signed-by-b",
        Attack(token=sign(b_key, claims_for(other.issuer))),
        Expect(200, forwarded=True),
    )


def c27(t: Target):
    rsa_2 = new_rsa_key("rsa-2")
    t.published.idp.keys = [*t.published.idp.keys, rsa_2]
    t.refresh_keys()
    # Policy: without a kid, only the issuer's keys bound to the token's alg are tried
    # (RS256: rsa-1 and rsa-2, never ec-1); a valid signature by one of them passes.
    yield (
        "no-kid-first-key",
        Attack(token=t.token(header={"kid": None})),
        Expect(200, forwarded=True),
    )
    yield (
        "no-kid-second-key",
        Attack(token=t.token(key=rsa_2, header={"kid": None})),
        Expect(200, forwarded=True),
    )
    yield (
        "no-kid-stranger",
        Attack(token=t.token(key=new_rsa_key("x"), header={"kid": None})),
        Expect(401, "invalid_token"),
    )
    yield (
        "no-kid-es256-stranger",
        Attack(token=t.token(key=new_ec_key("y"), header={"kid": None}, alg="ES256")),
        Expect(401, "invalid_token"),
    )


def c28(t: Target):
    yield "expired-120s", Attack(token=t.token(exp=now() - 120)), Expect(401, "invalid_token")
    yield (
        "expired-30s-inside-leeway",
        Attack(token=t.token(exp=now() - 30)),
        Expect(200, forwarded=True),
    )


def c29(t: Target):
    yield "no-exp", Attack(token=t.token(exp=None)), Expect(401, "invalid_token")


def c30(t: Target):
    yield "nbf-in-an-hour", Attack(token=t.token(nbf=now() + 3600)), Expect(401, "invalid_token")


def c31(t: Target):
    yield "iat-tomorrow", Attack(token=t.token(iat=now() + 86400)), Expect(401, "invalid_token")


def c32(t: Target):
    header = {"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}
    base = json.dumps(t.claims(exp=None))[:-1]
    for name, exp_text in [
        ("exp-string", '"9999999999"'),
        ("exp-true", "true"),
        ("exp-null", "null"),
        ("exp-list", "[1]"),
        ("exp-object", "{}"),
        ("exp-1e400", "1e400"),
        ("exp-huge-int", "1" + "0" * 400),
        ("exp-nan", "NaN"),
        ("exp-infinity", "Infinity"),
        ("exp-5000-digits", "9" * 5000),
    ]:
        token = t.signed_text(header, f'{base}, "exp": {exp_text}}}')
        yield name, Attack(token=token), Expect(401, "invalid_token")
    yield "aud-list-of-int", Attack(token=t.token(aud=[1])), Expect(401, "invalid_token")
    yield "iss-object", Attack(token=t.token(iss={})), Expect(401, "invalid_token")
    yield "scope-list", Attack(token=t.token(scope=["pets:read"])), Expect(401, "invalid_token")
    yield (
        "client-id-list",
        Attack(token=t.token(client_id=["petstore-client"])),
        Expect(403, "application_not_authorized"),
    )
    yield (
        "client-id-object-no-aud",
        Attack(token=t.token(aud=None, client_id={"a": 1})),
        Expect(401, "invalid_token"),
    )


def c33(t: Target):
    issuer = t.issuer
    for name, iss in [
        ("trailing-slash", issuer + "/"),
        ("case-change", issuer.upper()),
        ("https-instead-of-http", issuer.replace("http://", "https://")),
        ("missing", None),
    ]:
        yield name, Attack(token=t.token(iss=iss)), Expect(401, "invalid_token")


def c34(t: Target):
    yield "wrong", Attack(token=t.token(aud="someone-else")), Expect(401, "invalid_token")
    yield (
        "list-containing-ours",
        Attack(token=t.token(aud=["x", "petstore"])),
        Expect(200, forwarded=True),
    )
    yield "empty-list", Attack(token=t.token(aud=[])), Expect(401, "invalid_token")
    yield "trailing-space", Attack(token=t.token(aud="petstore ")), Expect(401, "invalid_token")
    yield "prefix", Attack(token=t.token(aud="petstor")), Expect(401, "invalid_token")
    yield (
        "missing-aud-client-id-not-an-audience",
        Attack(token=t.token(aud=None)),
        Expect(401, "invalid_token"),
    )
    # The design's AWS rule: without aud, a client_id equal to an audience passes the aud
    # check; that client_id identifies no application here, hence 403 and not 401.
    yield (
        "missing-aud-client-id-is-an-audience",
        Attack(token=t.token(aud=None, client_id="petstore")),
        Expect(403, "application_not_authorized"),
    )


def c35(t: Target):
    claims_text = json.dumps(t.claims())
    twice = claims_text[:-1] + f', "iss": "{t.issuer}"}}'
    evil_first = '{"iss": "https://evil.example", ' + claims_text[1:]
    yield (
        "iss-twice-same",
        Attack(token=t.signed_text({"alg": "RS256", "kid": "rsa-1"}, twice)),
        Expect(401, "invalid_token"),
    )
    yield (
        "iss-twice-evil-first",
        Attack(token=t.signed_text({"alg": "RS256", "kid": "rsa-1"}, evil_first)),
        Expect(401, "invalid_token"),
    )
    header_twice = '{"alg": "none", "kid": "rsa-1", "alg": "RS256"}'
    yield (
        "alg-twice",
        Attack(token=t.signed_text(header_twice, claims_text)),
        Expect(401, "invalid_token"),
    )
    nested_twice = claims_text[:-1] + ', "cnf": {"jkt": "a", "jkt": "b"}}'
    yield (
        "nested-member-twice",
        Attack(token=t.signed_text({"alg": "RS256", "kid": "rsa-1"}, nested_twice)),
        Expect(401, "invalid_token"),
    )


def c36(t: Target):
    t.change_server(required_typ="at+jwt")
    t.good = t.token(header={"typ": "at+jwt"})
    id_token = t.token(aud="petstore-client", header={"typ": "JWT"})
    yield "id-token-typ-jwt", Attack(token=id_token), Expect(401, "invalid_token")
    yield "no-typ", Attack(token=t.token(header={"typ": None})), Expect(401, "invalid_token")
    yield (
        "typ-jwt-for-our-audience",
        Attack(token=t.token(header={"typ": "JWT"})),
        Expect(401, "invalid_token"),
    )
    yield (
        "typ-at+jwt-uppercase",
        Attack(token=t.token(header={"typ": "AT+JWT"})),
        Expect(200, forwarded=True),
    )
    yield (
        "typ-application-at+jwt",
        Attack(token=t.token(header={"typ": "application/at+jwt"})),
        Expect(200, forwarded=True),
    )


def c37(t: Target):
    token = t.token(scope="pets:read")

    def names_the_scope(reply: Reply) -> None:
        assert 'scope="pets:write"' in reply.headers["WWW-Authenticate"]
        assert 'error="insufficient_scope"' in reply.headers["WWW-Authenticate"]

    yield (
        "write-route-read-token",
        Attack(token=token, method="POST", data=b"{}"),
        Expect(403, "insufficient_scope", check=names_the_scope),
    )


def c38(t: Target):
    def not_injected(reply: Reply) -> None:
        seen = t.published.upstream.last["header_list"]
        assert "x-admin" not in {name.lower() for name, _ in seen}
        for name, value in seen:
            assert value.isprintable() and value.isascii(), (name, value)

    encoded = Expect(200, forwarded=True, check=not_injected)
    yield (
        "forwarded-claim-crlf",
        Attack(token=t.token(email="a@example.com\r\nX-Admin: 1")),
        encoded,
    )
    yield "subject-crlf", Attack(token=t.token(sub="user\r\nX-Admin: 1")), encoded
    yield "subject-nul-and-unicode", Attack(token=t.token(sub="us\x00er\u2028é")), encoded
    yield (
        "client-id-crlf",
        Attack(token=t.token(client_id="a\r\nX-Admin: 1")),
        Expect(403, "application_not_authorized"),
    )


def c39(t: Target):
    spoofs = {
        "x-gateway-application": {"X-Gateway-Application": "admin"},
        "underscore-spelling": {"X_Gateway_Application": "admin"},
        "connection-listed": {
            "Connection": "X-Gateway-Application",
            "X-Gateway-Application": "admin",
        },
        "subject": {"X-Gateway-Subject": "root"},
        "claim-header-without-the-claim": {"X-User-Email": "admin@example.com"},
    }

    def only_gateway_values(reply: Reply) -> None:
        seen = t.published.upstream.last["header_list"]
        values = {}
        for name, value in seen:
            values.setdefault(name.lower().replace("_", "-"), []).append(value)
        assert values["x-gateway-application"] == ["Petstore client"]
        assert values["x-gateway-subject"] == ["user-42"]
        assert "x-user-email" not in values  # the good token carries no email claim

    for name, headers in spoofs.items():
        yield (
            name,
            Attack(token=t.good, headers=headers),
            Expect(200, forwarded=True, check=only_gateway_values),
        )


def c40(t: Target):
    def refused_outright(reply: Reply) -> None:
        assert "not accepted" in reply.json["detail"]

    # Refused by shape, in well under a second: no KDF with 10^9 rounds, nothing inflated.
    refused = Expect(401, "invalid_token", check=refused_outright, max_seconds=2.0)
    small_bomb = deflate_bomb(4 * 1024 * 1024)
    yield (
        "zip-def-bomb",
        Attack(token=jwe_compact({"alg": "RSA-OAEP", "enc": "A256GCM", "zip": "DEF"}, small_bomb)),
        refused,
    )
    big_bomb = jwe_compact(
        {"alg": "RSA-OAEP", "enc": "A256GCM", "zip": "DEF"}, deflate_bomb(400 * 1024 * 1024)
    )
    yield (
        "zip-def-400-mb",
        Attack(raw=raw_request(t, f"Authorization: Bearer {big_bomb}")),
        Expect({0, 400, 431}, max_seconds=2.0),
    )
    p2c = {"alg": "PBES2-HS256+A128KW", "enc": "A128GCM", "p2c": 10**9, "p2s": "c2FsdA"}
    yield "pbes2-p2c-billion", Attack(token=jwe_compact(p2c)), refused
    yield "rsa1_5", Attack(token=jwe_compact({"alg": "RSA1_5", "enc": "A128CBC-HS256"})), refused
    # The same headers on a three-segment token: refused before any key is looked at.
    jws_shaped = t.signed_text(
        {"alg": "RS256", "kid": "rsa-1", "enc": "A256GCM", "zip": "DEF"}, t.claims()
    )
    yield "jws-shaped-with-enc-and-zip", Attack(token=jws_shaped), refused


CASES = {n: globals()[f"c{n:02d}"] for n in range(1, 41)}


@pytest.mark.parametrize("number", [pytest.param(n, id=f"case-{n:02d}") for n in CASES])
def test_attack_catalogue(target, number):
    # Warm up (keys fetched, config built) so hit counts below are exact.
    assert target.send(Attack(token=target.good)).status == 200
    failures = []
    for name, attack, expect in CASES[number](target):
        hits = target.published.upstream.hits
        started = time.monotonic()
        reply = target.send(attack)
        elapsed = time.monotonic() - started
        problem = f"case {number} {name}: {reply.status} {reply.body[:200]!r}"
        if reply.status not in expect.statuses():
            failures.append(problem)
            continue
        assert reply.status < 500, problem
        assert elapsed < expect.max_seconds, f"{problem}: took {elapsed:.2f} s"
        if expect.code is not None:
            assert reply.headers["Content-Type"] == "application/problem+json", problem
            body = reply.json
            assert body["code"] == expect.code, problem
            assert body["request_id"] == reply.headers["X-Request-Id"], problem
            if expect.code == "invalid_token":
                challenge = reply.headers["WWW-Authenticate"]
                assert challenge.startswith('Bearer realm="gatekeep", error="invalid_token"')
        assert target.published.upstream.hits == hits + (1 if expect.forwarded else 0), problem
        assert target.listener.accepted == 0, f"{problem}: a jku/x5u URL was fetched"
        if expect.check is not None:
            expect.check(reply)
    assert failures == []
    for check in target.after_checks:
        check()
    # The original token still works: nothing above poisoned a cache or a key set.
    hits = target.published.upstream.hits
    assert target.send(Attack(token=target.good)).status == 200
    assert target.published.upstream.hits == hits + 1
    assert target.listener.accepted == 0
