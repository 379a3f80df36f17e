"""The token inspector page: what the proxy decides for a token and a call, check by check.

The decision and the decoded header and claims come from proxy/inspector.py; this
view adds what an admin can do about a refusal and lays the facts out as rows.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from accounts.roles import Action
from console import inspector_extras
from console.access import role_required
from console.forms.inspector import InspectorForm
from proxy.inspector import decode_for_display, inspect_token

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
    share_id = request.GET.get("share", "") if request.method == "GET" else ""
    shared = inspector_extras.shared_token(share_id) if share_id else None
    if request.method == "POST":
        form = InspectorForm(request.POST)
    elif shared is not None:
        # A shared link: the call from the URL, the token from the cache.
        form = InspectorForm({**request.GET.dict(), "token": shared})
    else:
        initial = {
            name: request.GET[name] for name in ("api", "method", "path") if name in request.GET
        }
        form = InspectorForm(initial=initial)
    context = {"form": form, "share_expired": bool(share_id) and shared is None}
    if form.is_bound and form.is_valid():
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
            curl=inspector_extras.curl_command(
                data["api"], data["method"], data["path"], data["token"]
            ),
        )
        if request.method == "POST" and "share" in request.POST:
            new_id = inspector_extras.share_token(data["token"])
            query = inspector_extras.share_query(
                data["api"].pk, data["method"], data["path"], new_id
            )
            context["share_url"] = request.build_absolute_uri(f"{request.path}?{query}")
            context["share_minutes"] = settings.GATEWAY_INSPECTOR_SHARE_SECONDS // 60
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
