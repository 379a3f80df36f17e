"""`manage.py gateway_demo`: idempotent demo data, and the curl commands it prints work."""

import json
import re
import shutil
import subprocess
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command

from apis.models import Api, Route
from applications.models import Application
from authservers.models import AuthorizationServer, SigningKey
from demo.management.commands.gateway_demo import CURL_BEGIN, CURL_END


def demo(*args: str) -> str:
    out = StringIO()
    call_command("gateway_demo", *args, stdout=out)
    return out.getvalue()


def curl_script(output: str) -> str:
    return output[output.index(CURL_BEGIN) : output.index(CURL_END)]


def run_shell(script: str) -> dict:
    assert shutil.which("curl"), "the printed commands use curl"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(autouse=True)
def demo_upstream(settings, request):
    """The demo echo answers on the control plane's internal listener (GATEWAY_DEMO)."""
    settings.GATEWAY_DEMO = True
    if "gateway" in request.fixturenames:
        settings.GATEWAY_INTERNAL_URL = request.getfixturevalue("gateway").internal_url


def test_the_demo_is_idempotent_and_its_printed_curl_flow_works(gateway):
    first = demo("--base-url", gateway.url)
    second = demo("--base-url", gateway.url)

    assert AuthorizationServer.objects.get().issuer == gateway.url
    api = Api.objects.get()
    assert (api.base_path, api.status) == ("/demo/v1", "active")
    assert api.upstream_url == f"{gateway.internal_url}/demo/echo"
    assert Route.objects.count() == 3
    assert Application.objects.get().name == "Demo app"
    assert SigningKey.objects.count() == 2
    password = re.search(r"user admin, password (\S+)", first).group(1)
    assert authenticate(username="admin", password=password).is_superuser
    assert get_user_model().objects.get().password != password  # stored hashed
    secret = re.search(r"^Secret +(\S+)", first, re.MULTILINE).group(1)
    assert secret not in second and password not in second
    assert "--rotate-secret" in second and "--reset-password" in second
    assert second.rstrip().endswith(f"Demo ready: {gateway.url}")

    echoed = run_shell(curl_script(first))

    assert echoed["method"] == "GET"
    assert echoed["path"] == "/hello"
    assert echoed["headers"]["x-gateway-application"] == "Demo app"
    assert echoed["headers"]["x-gateway-subject"] == Application.objects.get().client_id
    assert "authorization" not in echoed["headers"]


def test_rotating_the_secret_prints_a_new_working_one(gateway):
    first = demo("--base-url", gateway.url)

    rotated = demo("--base-url", gateway.url, "--rotate-secret", "--reset-password")

    old = re.search(r"^Secret +(\S+)", first, re.MULTILINE).group(1)
    new = re.search(r"^Secret +(\S+)", rotated, re.MULTILINE).group(1)
    assert new != old
    assert re.search(r"user admin, password (\S+)", rotated)
    assert run_shell(curl_script(rotated))["path"] == "/hello"
    stale = curl_script(rotated).replace(new, old)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", stale], capture_output=True)
    assert result.returncode != 0  # the old secret no longer gets a token


def test_the_issuer_follows_the_base_url(gateway):
    demo("--base-url", "http://127.0.0.1:1")

    output = demo("--base-url", gateway.url)

    assert AuthorizationServer.objects.get().issuer == gateway.url
    assert Api.objects.get().upstream_url == f"{gateway.internal_url}/demo/echo"
    assert "the issuer moved from http://127.0.0.1:1" in output
    assert run_shell(curl_script(demo("--base-url", gateway.url, "--rotate-secret")))


def test_a_plain_http_public_base_url_is_refused(db):
    with pytest.raises(CommandError, match="plain http is only allowed for loopback"):
        demo("--base-url", "http://gateway.example.com")
    assert not AuthorizationServer.objects.exists()
