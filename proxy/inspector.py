"""The token inspector's engine: the proxy's own decision for a synthetic call, check by check.

`inspect_token()` runs `decide()` (proxy/pipeline.py) on a request carrying the
token where the API's policy looks for it; the console (console/inspector.py) and
the REST API (rest_api/views.py) only present the result. `decode_for_display()`
shows what a token says, for reading only: it never trusts the signature.
"""

import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote_plus

from django.utils import timezone
from django.utils.timesince import timesince, timeuntil

from apis.models import Api, IdentifyAndAuthorizePolicy
from apis.token_location import TokenLocation
from authservers.models import AuthorizationServer
from proxy.config import config_holder
from proxy.errors import GatewayError, InvalidToken
from proxy.pipeline import decide
from proxy.tokens import decode_segment, parse_json_object

TIME_CLAIMS = (("exp", "Expires"), ("nbf", "Not before"), ("iat", "Issued"))


@dataclass(frozen=True)
class Inspection:
    """What the proxy would do with one call, and every check it made on the way."""

    allowed: bool
    status: int
    code: str | None
    detail: str
    gateway_path: str
    route: str | None
    application: str | None
    trace: list[dict] = field(default_factory=list)
    # For admins: what was expected versus what the token had (the client sees `detail`).
    admin_detail: str | None = None


_BEARER_PREFIX = re.compile(r"^bearer\s+", re.IGNORECASE)


def bare_token(pasted: str) -> str:
    """A pasted token with or without its 'Bearer ' prefix, as the inspector takes it."""
    return _BEARER_PREFIX.sub("", pasted.strip()).strip()


def inspect_token(api: Api, method: str, path: str, token: str = "") -> Inspection:
    """Run the proxy's own decide() on a synthetic request carrying `token` for `api`
    (pasted with or without 'Bearer '), on the config this process serves now: a newer
    version is rebuilt in the background, never while the admin waits (issue 21)."""
    token = bare_token(token)
    full_path = api.base_path + path
    gateway_path = api.gateway_path + path
    trace: list[dict] = []
    try:
        decision = decide(
            config_holder.current_nowait(), _environ_for(api, method, token), full_path, trace
        )
    except GatewayError as error:
        return Inspection(
            allowed=False,
            status=error.status,
            code=error.code,
            detail=error.detail,
            gateway_path=gateway_path,
            route=None,
            application=None,
            trace=_complete(trace),
            admin_detail=error.admin_detail,
        )
    application = decision.application.name if decision.application else None
    return Inspection(
        allowed=True,
        status=200,
        code=None,
        detail=f"The call would be forwarded to {decision.api.name}.",
        gateway_path=gateway_path,
        route=f"{decision.route.method} {decision.route.path}",
        application=application,
        trace=_complete(trace),
    )


def _complete(trace: list[dict]) -> list[dict]:
    """Every step with the same members; facts a check did not record are None."""
    return [
        {
            "check": step["check"],
            "ok": step["ok"],
            "detail": step["detail"],
            "admin_detail": step.get("admin_detail") or step["detail"],
            "expected": step.get("expected"),
            "actual": step.get("actual"),
        }
        for step in trace
    ]


def _environ_for(api: Api, method: str, token: str) -> dict:
    """A WSGI environ carrying the token where the API's policy looks for it."""
    environ = {
        "REQUEST_METHOD": method,
        "QUERY_STRING": "",
        "wsgi.input": io.BytesIO(),
        "wsgi.url_scheme": "http",
    }
    if not token:
        return environ
    location = TokenLocation.of(IdentifyAndAuthorizePolicy.objects.filter(api=api).first())
    if location.in_query:
        environ["QUERY_STRING"] = location.pair(quote_plus(token))
    elif location.in_cookie:
        environ["HTTP_COOKIE"] = location.pair(token)
    else:
        environ[location.environ_key] = location.header_value(token)
    return environ


def decode_for_display(token: str) -> dict:
    """Header and claims as written in the token, with readable times; never verified."""
    result = {"header": None, "claims": None, "errors": [], "times": [], "issuer": None}
    parts = token.split(".")
    if len(parts) != 3:
        result["errors"].append(
            f"Not a compact JWT: expected 3 dot-separated parts, found {len(parts)}."
        )
        return result
    for key, what, segment in (("header", "header", parts[0]), ("claims", "payload", parts[1])):
        try:
            result[key] = parse_json_object(decode_segment(segment), what, "format")
        except ValueError:
            result["errors"].append(f"The {what} is not canonical base64url.")
        except InvalidToken as exc:
            result["errors"].append(exc.detail)
    claims = result["claims"] or {}
    now = timezone.now()
    for name, label in TIME_CLAIMS:
        value = claims.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                moment = datetime.fromtimestamp(value, tz=UTC)
            except (OverflowError, OSError, ValueError):
                continue
            relative = _relative(moment, now)
            result["times"].append(
                {
                    "name": name,
                    "label": label,
                    "moment": moment,
                    "relative": relative,
                    "past": moment <= now,
                }
            )
    if isinstance(claims.get("iss"), str):
        result["issuer"] = AuthorizationServer.objects.filter(issuer=claims["iss"]).first()
    return result


def _relative(moment: datetime, now: datetime) -> str:
    if abs((moment - now).total_seconds()) < 60:
        return "just now"
    if moment > now:
        return f"in {timeuntil(moment, now)}"
    return f"{timesince(moment, now)} ago"
