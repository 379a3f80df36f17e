import itertools

import pytest

from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from authservers.models import AuthorizationServer
from gateway_admin.models import AuditEvent

from .crud import StaffOnlyCRUDTests, assert_field_errors

_numbers = itertools.count(1)


def api_data(**overrides) -> dict:
    n = next(_numbers)
    data = {
        "name": f"Orders {n}",
        "version": "v1",
        "base_path": f"/orders-{n}/v1",
        "upstream_url": "https://orders.internal.example/api",
        "kind": "REST",
    }
    return {**data, **overrides}


def make_api(**overrides) -> Api:
    return Api.objects.create(**api_data(**overrides))


class TestApis(StaffOnlyCRUDTests):
    model = Api
    update_data = {"name": "Orders (renamed)", "read_timeout": 12.5}
    invalid_data = (
        {"name": "", "base_path": "/x", "upstream_url": "ftp://files.example.com"},
        {"name", "upstream_url"},
    )

    def list_url(self) -> str:
        return "/api/v1/apis/"

    def create_data(self) -> dict:
        return api_data()


class TestRoutes(StaffOnlyCRUDTests):
    model = Route
    update_data = {"required_scopes": ["orders:write"], "anonymous": True}
    invalid_data = (
        {"method": "FETCH", "path": "/orders", "required_scopes": "orders:read"},
        {"method", "required_scopes"},
    )

    @pytest.fixture(autouse=True)
    def _api(self, db):
        self.api = make_api()

    def list_url(self) -> str:
        return f"/api/v1/apis/{self.api.pk}/routes/"

    def create_data(self) -> dict:
        return {"method": "GET", "path": f"/orders/{next(_numbers)}/{{id}}"}


def test_it_normalises_the_base_path_it_saves(staff_client):
    response = staff_client.post("/api/v1/apis/", api_data(base_path="petstore//v1/"))
    assert response.status_code == 201, response.content
    assert response.json()["base_path"] == "/petstore/v1"
    assert Api.objects.get().base_path == "/petstore/v1"


@pytest.mark.parametrize(
    "base_path", ["/shop", "/shop/v1/admin", "shop/v1/", "/shop/../v2", "/sh op/v1", "/"]
)
def test_it_rejects_base_paths_that_overlap_or_are_malformed(staff_client, base_path):
    make_api(base_path="/shop/v1")
    response = staff_client.post("/api/v1/apis/", api_data(base_path=base_path), format="json")
    assert_field_errors(response, {"base_path"})
    assert Api.objects.count() == 1


@pytest.mark.parametrize(
    "url", ["ftp://example.com", "javascript:alert(1)", "https://user:pw@example.com", "example"]
)
def test_it_accepts_only_http_upstreams(staff_client, url):
    response = staff_client.post("/api/v1/apis/", api_data(upstream_url=url), format="json")
    assert_field_errors(response, {"upstream_url"})


def test_status_is_read_only_and_new_apis_start_inactive(staff_client):
    response = staff_client.post("/api/v1/apis/", api_data(status="active"), format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "inactive"
    pk = response.json()["id"]
    patched = staff_client.patch(f"/api/v1/apis/{pk}/", {"status": "active"}, format="json")
    assert patched.json()["status"] == "inactive"


def test_it_lists_with_filters_search_ordering_and_pagination(staff_client):
    make_api(name="Alpha", base_path="/alpha")
    make_api(name="Beta", base_path="/beta")
    Api.objects.filter(name="Beta").update(status="active")
    assert [
        a["name"] for a in staff_client.get("/api/v1/apis/?status=active").json()["results"]
    ] == ["Beta"]
    assert staff_client.get("/api/v1/apis/?name=Alpha").json()["count"] == 1
    assert staff_client.get("/api/v1/apis/?search=alp").json()["results"][0]["name"] == "Alpha"
    ordered = staff_client.get("/api/v1/apis/?ordering=-name").json()["results"]
    assert [a["name"] for a in ordered] == ["Beta", "Alpha"]
    page = staff_client.get("/api/v1/apis/").json()
    assert page["count"] == 2 and page["next"] is None
    assert staff_client.get("/api/v1/apis/?page=9").status_code == 404
    assert staff_client.get("/api/v1/apis/?status=bogus").status_code == 400


def test_activate_answers_400_with_every_problem_and_changes_nothing(staff_client):
    api = make_api()
    response = staff_client.post(f"/api/v1/apis/{api.pk}/activate/")
    assert response.status_code == 400
    assert response.json() == {
        "problems": [
            "The API has no routes.",
            'Attach the "Identify and authorize application" policy.',
        ]
    }
    api.refresh_from_db()
    assert api.status == "inactive"
    assert not AuditEvent.objects.filter(action="activate").exists()


def test_activate_and_deactivate_a_complete_api_are_audited(staff_client, staff_user):
    api = make_api()
    Route.objects.create(api=api, method="GET", path="/orders")
    server = AuthorizationServer.objects.create(name="IdP", issuer="https://idp.example.com")
    policy = IdentifyAndAuthorizePolicy.objects.create(api=api, audiences=["orders"])
    policy.authorization_servers.add(server)

    response = staff_client.post(f"/api/v1/apis/{api.pk}/activate/")
    assert response.status_code == 200
    assert response.json() == {"status": "active"}
    assert staff_client.get(f"/api/v1/apis/{api.pk}/").json()["status"] == "active"

    response = staff_client.post(f"/api/v1/apis/{api.pk}/deactivate/")
    assert response.json() == {"status": "inactive"}
    events = AuditEvent.objects.filter(object_type="api", object_id=str(api.pk)).order_by("id")
    assert [(e.action, e.actor) for e in events] == [
        ("activate", staff_user),
        ("deactivate", staff_user),
    ]


def test_route_templates_are_parsed_and_normalised(staff_client):
    api = make_api()
    url = f"/api/v1/apis/{api.pk}/routes/"
    ok = staff_client.post(url, {"method": "ANY", "path": "/files//{path+}"}, format="json")
    assert ok.status_code == 201, ok.content
    assert ok.json()["path"] == "/files/{path+}"
    assert ok.json()["api"] == api.pk
    for bad in ["pets", "/pets/{id", "/a/{p+}/b", "/x/{id}/{id}", "/../etc"]:
        assert_field_errors(staff_client.post(url, {"path": bad}, format="json"), {"path"})


def test_a_duplicate_route_is_a_400_not_a_500(staff_client):
    api = make_api()
    url = f"/api/v1/apis/{api.pk}/routes/"
    assert staff_client.post(url, {"method": "GET", "path": "/a"}, format="json").status_code == 201
    response = staff_client.post(url, {"method": "GET", "path": "/a/"}, format="json")
    assert_field_errors(response, {"path"})
    renamed = staff_client.post(url, {"method": "GET", "path": "/{x}"}, format="json")
    assert renamed.status_code == 201
    shadowing = staff_client.post(url, {"method": "GET", "path": "/{y}"}, format="json")
    assert_field_errors(shadowing, {"path"})
    assert api.routes.count() == 2


def test_routes_belong_to_their_api(staff_client):
    first, second = make_api(), make_api()
    route = Route.objects.create(api=first, method="GET", path="/a")
    assert staff_client.get(f"/api/v1/apis/{second.pk}/routes/{route.pk}/").status_code == 404
    assert staff_client.get(f"/api/v1/apis/{second.pk}/routes/").json()["count"] == 0
    assert staff_client.get("/api/v1/apis/999999/routes/").status_code == 404
    missing_api = staff_client.post("/api/v1/apis/999999/routes/", {"path": "/a"}, format="json")
    assert missing_api.status_code == 404


class TestPolicy:
    @pytest.fixture(autouse=True)
    def _api(self, db):
        self.api = make_api()
        self.server = AuthorizationServer.objects.create(
            name="IdP", issuer="https://idp.example.com"
        )
        self.url = f"/api/v1/apis/{self.api.pk}/policy/"

    def payload(self, **overrides) -> dict:
        data = {
            "authorization_servers": [self.server.pk],
            "identity_source": "header",
            "identity_name": "Authorization",
            "audiences": ["orders"],
            "required_scopes": ["orders:read"],
            "allow_anonymous": False,
            "forward_claims": {"sub": "X-User"},
            "forward_authorization": False,
        }
        return {**data, **overrides}

    def test_get_is_404_until_a_policy_is_put(self, staff_client):
        assert staff_client.get(self.url).status_code == 404

    def test_put_creates_then_replaces_the_policy_and_audits_both(self, staff_client):
        created = staff_client.put(self.url, self.payload(), format="json")
        assert created.status_code == 200, created.content
        assert created.json() == {**self.payload(), "api": self.api.pk}
        assert staff_client.get(self.url).json() == created.json()

        replaced = staff_client.put(self.url, self.payload(audiences=["a", "b"]), format="json")
        assert replaced.json()["audiences"] == ["a", "b"]
        assert IdentifyAndAuthorizePolicy.objects.get(api=self.api).audiences == ["a", "b"]
        events = AuditEvent.objects.filter(object_type="identifyandauthorizepolicy")
        assert sorted(e.action for e in events) == ["create", "update"]
        update = events.get(action="update")
        assert update.before["audiences"] == ["orders"]
        assert update.after["audiences"] == ["a", "b"]
        assert update.after["authorization_servers"] == [self.server.pk]

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"authorization_servers": [424242]}, "authorization_servers"),
            ({"audiences": "orders"}, "audiences"),
            ({"audiences": [" orders"]}, "audiences"),
            ({"required_scopes": ["a b"]}, "required_scopes"),
            ({"forward_claims": {"sub": "Authorization"}}, "forward_claims"),
            ({"forward_claims": {"sub": ["X-A"]}}, "forward_claims"),
            ({"identity_source": "body"}, "identity_source"),
            ({"identity_name": "X Token"}, "identity_name"),
        ],
    )
    def test_invalid_policies_are_field_errors(self, staff_client, overrides, field):
        response = staff_client.put(self.url, self.payload(**overrides), format="json")
        assert_field_errors(response, {field})
        assert not IdentifyAndAuthorizePolicy.objects.exists()
