"""Liveness and readiness probes of the control plane (core/readiness.py decides), and
/metrics (proxy/metrics.py)."""

from contextlib import suppress

from django.db import DatabaseError
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from core.readiness import readiness
from proxy import metrics as proxy_metrics


@require_GET
def healthz(request) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request) -> JsonResponse:
    status, payload = readiness()
    return JsonResponse(payload, status=status)


@require_GET
def metrics(request) -> HttpResponse:
    """Prometheus metrics of this node: every data-plane worker (multiprocess mode) plus
    the issuers' key sets from the database. Bearer token or allowed address only;
    anyone else gets a plain 404, as for any unknown path."""
    if not proxy_metrics.allowed(
        request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_AUTHORIZATION", "")
    ):
        raise Http404
    extra = []
    with suppress(DatabaseError):  # without the database the traffic metrics still count
        extra.append(proxy_metrics.IssuerCollector(proxy_metrics.issuer_rows()))
    body, content_type = proxy_metrics.render(extra)
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response
