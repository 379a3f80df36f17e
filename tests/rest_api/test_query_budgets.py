"""List endpoints cost a fixed number of queries, however many objects they list."""

import pytest

from apis.models import Api, Route
from applications.services import create_application
from authservers.models import AuthorizationServer, JwksSnapshot
from core.models import AuditEvent


@pytest.fixture
def many(db):
    for n in range(6):
        api = Api.objects.create(name=f"A{n}", base_path=f"/a{n}", upstream_url="https://a.example")
        Route.objects.create(api=api, method="GET", path=f"/r{n}")
        server = AuthorizationServer.objects.create(name=f"S{n}", issuer=f"https://s{n}.example")
        JwksSnapshot.objects.create(server=server, keys=[{"kid": f"k{n}"}])
        create_application(name=f"App{n}", apis=[api], identifying_claims={"client_id": f"c{n}"})
    return Api.objects.first()


@pytest.mark.parametrize(
    ("path", "budget"),
    [
        # token + user, the role (user's and groups' permissions), count, page
        ("/api/v1/apis/", 5),
        # token + user, the role, count, page joined with jwks_snapshot
        ("/api/v1/authorization-servers/", 5),
        # token + user, the role, count, page joined with oauth_client, prefetch of apis
        ("/api/v1/applications/", 6),
        # token + user, the role, count, page
        ("/api/v1/audit-events/", 5),
    ],
)
def test_list_endpoints_have_a_fixed_query_budget(
    staff_client, many, django_assert_num_queries, path, budget
):
    with django_assert_num_queries(budget):
        response = staff_client.get(path)
    assert response.json()["count"] >= 6


def test_the_routes_list_has_a_fixed_query_budget(staff_client, many, django_assert_num_queries):
    Route.objects.bulk_create(Route(api=many, method="POST", path=f"/p{n}") for n in range(10))
    # token + user, the role (2), the API from the URL, count, page
    with django_assert_num_queries(6):
        response = staff_client.get(f"/api/v1/apis/{many.pk}/routes/")
    assert response.json()["count"] == 11
    assert AuditEvent.objects.filter(action="create").count() == 6
