"""The token inspector: what the proxy decides for a token and a call, check by check.

The decision is the proxy's own `decide()` (through apis.services.inspect_token);
the decoded header and claims are for reading only and never trust the signature.
"""

from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil
from django.views.decorators.http import require_http_methods

from accounts.roles import Action
from apis.services import inspect_token
from authservers.models import AuthorizationServer
from console.access import role_required
from console.forms import InspectorForm
from proxy.errors import InvalidToken
from proxy.tokens import decode_segment, parse_json_object

TIME_CLAIMS = (("exp", "Expires"), ("nbf", "Not before"), ("iat", "Issued"))

# What an admin can do about each refusal; the proxy's detail says what exactly failed.
HINTS = {
    "api_not_found": "Only active APIs are served: check the API's status and base path.",
    "route_not_found": "No route of the API matches this path; compare it with the routes.",
    "method_not_allowed": "A route matches the path but not the method.",
    "missing_token": "The client sent no token where the policy looks for it.",
    "invalid_request": "The request is malformed; the detail says how.",
    "invalid_token": "The token itself was refused. The client needs a valid token from a "
    "trusted issuer, for one of the API's audiences.",
    "application_not_authorized": "The token is valid, but no active application associated "
    "with this API has identifying claims that all match it.",
    "insufficient_scope": "The token lacks a scope the route or policy requires.",
    "issuer_unavailable": "The gateway has no usable keys for the issuer: check the "
    "authorization server's health and Refresh now.",
}


@require_http_methods(["GET", "POST"])
@role_required(Action.INSPECT_TOKENS)
def inspector(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = InspectorForm(request.POST)
    else:
        initial = {
            name: request.GET[name] for name in ("api", "method", "path") if name in request.GET
        }
        form = InspectorForm(initial=initial)
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        inspection = inspect_token(data["api"], data["method"], data["path"], data["token"])
        failure = next((step for step in inspection.trace if not step["ok"]), None)
        context.update(
            api=data["api"],
            token=data["token"],
            inspection=inspection,
            steps=[{**step, "facts": fact_rows(step)} for step in inspection.trace],
            failure=failure,
            hint=HINTS.get(inspection.code or ""),
            decoded=decode_for_display(data["token"]) if data["token"] else None,
        )
    return render(request, "console/inspector.html", context)


def fact_rows(step: dict) -> list[dict]:
    """A trace step's expected and actual facts as rows: name, expected, actual."""
    expected, actual = step.get("expected") or {}, step.get("actual") or {}
    names = list(dict.fromkeys([*expected, *actual]))
    return [
        {
            "name": name,
            "expected": _fact(expected[name]) if name in expected else "",
            "actual": _fact(actual[name]) if name in actual else "",
        }
        for name in names
    ]


def _fact(value) -> str:
    if value is None:
        return "(absent)"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "(none)"
    return str(value)


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
