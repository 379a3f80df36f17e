"""Liveness and readiness probes of the control plane (core/readiness.py decides)."""

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from core.readiness import readiness


@require_GET
def healthz(request) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request) -> JsonResponse:
    status, payload = readiness()
    return JsonResponse(payload, status=status)
