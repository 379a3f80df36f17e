"""Issue 12 in the console and the Django admin: the same outbound rules as the REST API,
shown next to the field."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.urls import reverse

from apis.models import Api
from authservers.models import AuthorizationServer

METADATA = "https://[::ffff:169.254.169.254]/latest/meta-data/"


def _api_form(upstream_url: str) -> dict:
    return {
        "name": "Meta",
        "version": "v1",
        "base_path": "/meta/v1",
        "upstream_url": upstream_url,
        "kind": "REST",
        "connect_timeout": "5",
        "read_timeout": "30",
    }


def _server_form(**fields) -> dict:
    data = {
        "name": "Meta IdP",
        "kind": "external",
        "issuer": "https://idp.example.com",
        "allowed_algorithms": ["RS256"],
        "leeway_seconds": "60",
        "jwks_refresh_seconds": "300",
        "max_stale_seconds": "86400",
        "token_lifetime_seconds": "3600",
    }
    return data | fields


@pytest.mark.parametrize("upstream", [METADATA, "http://0xa9fea9fe/", "http://127.0.0.1:8001/"])
def test_the_console_refuses_a_denied_upstream_next_to_the_field(console, upstream, settings):
    settings.GATEWAY_ADMIN_BIND = "127.0.0.1:8001"
    response = console.post(reverse("console:api-create"), _api_form(upstream))
    assert response.status_code == 200
    assert response.context["form"].errors["upstream_url"][0].startswith("The upstream URL must")
    assert not Api.objects.exists()


def test_the_console_refuses_an_edit_to_a_metadata_upstream(console, api):
    response = console.post(reverse("console:api-edit", args=[api.pk]), _api_form(METADATA))
    assert "upstream_url" in response.context["form"].errors
    api.refresh_from_db()
    assert api.upstream_url == "http://127.0.0.1:9/"


@pytest.mark.parametrize("field", ["issuer", "discovery_url", "jwks_uri"])
def test_the_console_refuses_a_server_url_at_a_metadata_address(console, field):
    response = console.post(
        reverse("console:server-create"), _server_form(**{field: "https://169.254.169.254/x"})
    )
    assert response.status_code == 200
    assert "cloud metadata" in response.context["form"].errors[field][0]
    assert not AuthorizationServer.objects.exists()


@pytest.fixture
def admin_request(db):
    superuser = get_user_model().objects.create_superuser("root", "", "pw")
    request = RequestFactory().post("/admin/")
    request.user = superuser
    return request


def test_the_django_admin_refuses_a_metadata_upstream(admin_request):
    form_class = admin.site._registry[Api].get_form(admin_request)
    form = form_class(data=_api_form("http://metadata.google.internal/computeMetadata/v1/"))
    assert form.is_valid() is False
    assert "cloud metadata host name" in form.errors["upstream_url"][0]


@pytest.mark.parametrize("field", ["issuer", "discovery_url", "jwks_uri"])
def test_the_django_admin_refuses_a_server_url_at_a_metadata_address(admin_request, field):
    form_class = admin.site._registry[AuthorizationServer].get_form(admin_request)
    data = _server_form(**{field: "https://0251.0376.0251.0376/"})
    data["allowed_algorithms"] = '["RS256"]'
    form = form_class(data=data)
    assert form.is_valid() is False
    assert "169.254.169.254, a cloud metadata address" in form.errors[field][0]
