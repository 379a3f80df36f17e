"""A control-plane worker stays bounded whatever pages it serves (issue 21).

Two things keep it so: every page is bounded (tests/console/test_pages_at_scale.py),
and gunicorn replaces a worker after GATEWAY_ADMIN_MAX_REQUESTS requests, so heap
that CPython keeps after a big response is given back with the process. Here the
production control plane serves three passes over its pages with the limit at 30:
its workers are replaced, every page still answers, and none grows past 250 MB.
"""

import contextlib
import time

import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token

from apis.models import Api, Route
from applications.models import Application
from tests.production import proc_memory_kb

MAX_WORKER_MB = 250


def _seed() -> Api:
    apis = Api.objects.bulk_create(
        Api(name=f"Service {n}", base_path=f"/m{n}/v1", upstream_url="http://127.0.0.1:9/")
        for n in range(60)
    )
    Route.objects.bulk_create(Route(api=api, method="GET", path="/items") for api in apis)
    made = Application.objects.bulk_create(
        Application(name=f"app-{n:05d}", identifying_claims={"client_id": f"c-{n}"})
        for n in range(3000)
    )
    through = Application.apis.through
    through.objects.bulk_create(through(application_id=a.pk, api_id=apis[0].pk) for a in made)
    return apis[0]


@pytest.mark.serial
def test_a_control_plane_worker_is_recycled_and_stays_bounded(production_gateway):
    api = _seed()
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-1")
    browser = Client()
    browser.force_login(user)
    cookie = {settings.SESSION_COOKIE_NAME: browser.cookies[settings.SESSION_COOKIE_NAME].value}
    token = Token.objects.create(user=user).key
    gateway = production_gateway(
        env={"GATEWAY_ADMIN_MAX_REQUESTS": "30", "GATEWAY_ADMIN_MAX_REQUESTS_JITTER": "0"}
    )
    first = gateway.worker_pids("admin")
    pages = [
        f"/console/apis/{api.pk}/",
        "/console/apis/",
        "/console/applications/",
        f"/console/applications/?api={api.pk}",
        "/console/applications/new/",
        "/console/inspector/",
        f"/admin/apis/api/{api.pk}/change/",
        "/admin/applications/application/",
        "/api/v1/applications/",
        f"/api/v1/apis/{api.pk}/routes/",
    ]
    seen, peak_kb = set(first), 0
    for _ in range(3):
        for path in pages:
            headers = {"Authorization": f"Token {token}"} if path.startswith("/api/") else {}
            response = requests.get(
                gateway.admin_url + path, cookies=cookie, headers=headers, timeout=30
            )
            assert response.status_code == 200, (path, response.status_code)
            for pid in gateway.worker_pids("admin"):
                seen.add(pid)
                with contextlib.suppress(OSError, AssertionError):  # a worker being replaced
                    peak_kb = max(peak_kb, proc_memory_kb(pid, "VmHWM"))
    # The 30th request ends the worker's life, but its successor may take a moment to
    # start: look again for a while, with a few more requests (never more than 40 in all).
    for _ in range(10):
        if seen - set(first):
            break
        time.sleep(0.5)
        requests.get(gateway.admin_url + "/healthz", timeout=30)
        seen.update(gateway.worker_pids("admin"))
    assert seen - set(first), "no control-plane worker was replaced after 30 requests"
    assert 0 < peak_kb < MAX_WORKER_MB * 1024, f"a worker peaked at {peak_kb // 1024} MB"
