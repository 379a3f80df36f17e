import pytest
from django.core.exceptions import ValidationError

from apis.models import Api, Route
from core.audit import snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def api() -> Api:
    return Api.objects.create(name="Pets", base_path="/pets/v1", upstream_url="http://127.0.0.1:9")


def test_a_route_that_only_renames_a_parameter_is_refused(api):
    Route.objects.create(api=api, method="GET", path="/pets/{id}")
    duplicate = Route(api=api, method="GET", path="/pets/{petId}")
    with pytest.raises(ValidationError) as caught:
        duplicate.full_clean()
    assert "already matches the same requests" in caught.value.message_dict["path"][0]


def test_the_same_shape_with_another_method_is_fine(api):
    Route.objects.create(api=api, method="GET", path="/pets/{id}")
    Route(api=api, method="DELETE", path="/pets/{petId}").full_clean()


def test_route_templates_are_normalised(api):
    route = Route(api=api, method="GET", path="/pets//{id}/")
    route.full_clean()
    assert route.path == "/pets/{id}"


@pytest.mark.parametrize("path", ["pets", "/pets/{id", "/a/{p+}/b", "/x/{a}/{a}", "/../etc"])
def test_malformed_templates_are_field_errors(api, path):
    with pytest.raises(ValidationError) as caught:
        Route(api=api, method="GET", path=path).full_clean()
    assert "path" in caught.value.message_dict


def test_the_audit_snapshot_includes_the_status(api):
    assert snapshot(api)["status"] == "inactive"
