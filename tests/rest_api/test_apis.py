import itertools

import pytest

from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from authservers.models import AuthorizationServer
from core.models import AuditEvent
from tests.rest_api.crud import StaffOnlyCRUDTests, assert_field_errors, assert_problem

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


@pytest.mark.parametrize("spelling", ["/shop/v1", "shop//v1/"])
def test_an_exact_duplicate_base_path_names_the_api_already_there(staff_client, spelling):
    make_api(name="Shop", version="v1", base_path="/shop/v1")
    response = staff_client.post("/api/v1/apis/", api_data(base_path=spelling), format="json")
    assert_field_errors(response, {"base_path"})
    body = response.json()
    assert body["errors"]["base_path"] == [
        "An API is already published at /shop/v1 (Shop v1). Choose another base path (e.g. a "
        "new version segment), or edit that API instead."
    ]
    assert body["error_codes"] == {"base_path": ["base_path_taken"]}
    assert "base_path: An API is already published at /shop/v1" in body["detail"]
    assert Api.objects.count() == 1


def test_an_overlapping_base_path_has_its_own_code(staff_client):
    make_api(base_path="/shop/v1")
    response = staff_client.post("/api/v1/apis/", api_data(base_path="/shop"), format="json")
    assert_field_errors(response, {"base_path"})
    assert response.json()["error_codes"] == {"base_path": ["base_path_overlap"]}


def test_renaming_onto_another_apis_base_path_is_refused_the_same_way(staff_client):
    make_api(name="Shop", version="v1", base_path="/shop/v1")
    other = make_api(base_path="/other/v1")
    response = staff_client.patch(
        f"/api/v1/apis/{other.pk}/", {"base_path": "/shop/v1"}, format="json"
    )
    assert_field_errors(response, {"base_path"})
    assert response.json()["error_codes"] == {"base_path": ["base_path_taken"]}


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
    body = assert_problem(response, 400, "activation_refused")
    assert body["problems"] == [
        "The API has no routes.",
        'Attach the "Identify and authorize application" policy.',
    ]
    assert body["detail"] == (
        f"{api} cannot be activated yet: fix the 2 problems listed in `problems`, then "
        "activate it again."
    )
    api.refresh_from_db()
    assert api.status == "inactive"
    assert not AuditEvent.objects.filter(action="activate").exists()


def test_activate_and_deactivate_a_complete_api_are_audited(staff_client, staff_user, idp):
    api = make_api()
    Route.objects.create(api=api, method="GET", path="/orders")
    server = AuthorizationServer.objects.create(name="IdP", issuer=idp.issuer)
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


def test_activation_fetches_keys_never_fetched_and_names_them_when_it_cannot(staff_client, idp):
    api = make_api()
    Route.objects.create(api=api, method="GET", path="/orders")
    server = AuthorizationServer.objects.create(name="Down IdP", issuer=idp.issuer)
    IdentifyAndAuthorizePolicy.objects.create(api=api, audiences=["orders"])
    api.policy.authorization_servers.add(server)
    idp.mode = "error"

    response = staff_client.post(f"/api/v1/apis/{api.pk}/activate/")
    body = assert_problem(response, 400, "activation_refused")
    [problem] = body["problems"]
    assert problem.startswith(
        f"The keys of authorization server Down IdP (discovered from {idp.issuer}"
        "/.well-known/openid-configuration) were never fetched"
    )
    # The uniform fetch error (no status code to map ports with; the log has the cause).
    assert "The last attempt failed:" in problem and "could not be fetched" in problem
    assert f"/api/v1/authorization-servers/{server.pk}/refresh-jwks/" in problem
    assert Api.objects.get(pk=api.pk).status == "inactive"

    idp.mode = "ok"  # the issuer is back: the same call fetches the keys and activates
    assert staff_client.post(f"/api/v1/apis/{api.pk}/activate/").json() == {"status": "active"}
    assert server.jwks_snapshot.key_ids == ["rsa-1", "ec-1"]


def test_activation_names_keys_past_their_staleness_limit(staff_client, idp):
    from datetime import timedelta

    from django.utils import timezone

    from authservers.models import JwksSnapshot
    from authservers.services import refresh_jwks

    api = make_api()
    Route.objects.create(api=api, method="GET", path="/orders")
    server = AuthorizationServer.objects.create(name="Old IdP", issuer=idp.issuer)
    IdentifyAndAuthorizePolicy.objects.create(api=api, audiences=["orders"])
    api.policy.authorization_servers.add(server)
    assert refresh_jwks(server).ok
    JwksSnapshot.objects.filter(server=server).update(fetched_at=timezone.now() - timedelta(days=3))
    idp.mode = "error"
    body = assert_problem(
        staff_client.post(f"/api/v1/apis/{api.pk}/activate/"), 400, "activation_refused"
    )
    [problem] = body["problems"]
    assert problem.startswith("The keys of authorization server Old IdP are 3 days old, past its")
    assert "could not be fetched" in problem


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
        body = assert_problem(staff_client.get(self.url), 404, "policy_not_found")
        assert body["detail"] == "This API has no policy yet; PUT one."

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


class TestAnonymousPolicies:
    """Audiences may be empty exactly when no call to the API needs a token."""

    @pytest.fixture(autouse=True)
    def _api(self, db):
        self.api = make_api()
        self.url = f"/api/v1/apis/{self.api.pk}/policy/"

    def policy(self, **overrides) -> dict:
        return {"authorization_servers": [], "audiences": [], **overrides}

    def test_allow_anonymous_needs_no_audience_and_activates(self, staff_client):
        Route.objects.create(api=self.api, method="GET", path="/orders")
        response = staff_client.put(self.url, self.policy(allow_anonymous=True), format="json")
        assert response.status_code == 200, response.content
        assert response.json()["audiences"] == []
        activated = staff_client.post(f"/api/v1/apis/{self.api.pk}/activate/")
        assert activated.json() == {"status": "active"}

    def test_only_public_routes_need_no_audience(self, staff_client):
        Route.objects.create(api=self.api, method="GET", path="/status", anonymous=True)
        response = staff_client.put(self.url, self.policy(), format="json")
        assert response.status_code == 200, response.content
        activated = staff_client.post(f"/api/v1/apis/{self.api.pk}/activate/")
        assert activated.json() == {"status": "active"}

    def test_a_protected_api_still_needs_an_audience(self, staff_client):
        Route.objects.create(api=self.api, method="GET", path="/status", anonymous=True)
        Route.objects.create(api=self.api, method="GET", path="/orders")
        response = staff_client.put(self.url, self.policy(), format="json")
        assert_field_errors(response, {"audiences"})
        assert response.json()["error_codes"] == {"audiences": ["audience_required"]}
        assert not IdentifyAndAuthorizePolicy.objects.exists()

    def test_a_protected_route_cannot_join_an_api_without_audiences(self, staff_client):
        Route.objects.create(api=self.api, method="GET", path="/status", anonymous=True)
        assert staff_client.put(self.url, self.policy(), format="json").status_code == 200
        routes = f"/api/v1/apis/{self.api.pk}/routes/"
        response = staff_client.post(routes, {"method": "GET", "path": "/orders"}, format="json")
        assert_field_errors(response, {"anonymous"})
        assert response.json()["error_codes"] == {"anonymous": ["audience_required"]}
        public = {"method": "GET", "path": "/health", "anonymous": True}
        assert staff_client.post(routes, public, format="json").status_code == 201

    def test_turning_anonymous_off_needs_an_audience(self, staff_client):
        Route.objects.create(api=self.api, method="GET", path="/orders")
        staff_client.put(self.url, self.policy(allow_anonymous=True), format="json")
        response = staff_client.put(self.url, self.policy(allow_anonymous=False), format="json")
        assert_field_errors(response, {"audiences"})
        assert IdentifyAndAuthorizePolicy.objects.get(api=self.api).allow_anonymous is True
