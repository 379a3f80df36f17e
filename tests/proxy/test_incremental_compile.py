"""A compile reuses every API whose sources did not change (proxy/incremental.py, issue 21):
one small API's edit does not rebuild the 100,000-application index of another."""

import pytest

from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from applications.models import Application
from proxy.config import collect_snapshot, compile_snapshot


def _api(path: str) -> Api:
    api = Api.objects.create(name=path, base_path=f"/{path}", upstream_url="http://127.0.0.1:9/")
    Route.objects.create(api=api, method="GET", path="/items")
    IdentifyAndAuthorizePolicy.objects.create(api=api, audiences=["x"])
    Api.objects.filter(pk=api.pk).update(status="active")
    return api


def _applications(api: Api, names: list[str]) -> None:
    made = Application.objects.bulk_create(
        Application(name=name, identifying_claims={"client_id": name}) for name in names
    )
    api.applications.add(*made)


@pytest.fixture
def two_apis(db):
    big, small = _api("big"), _api("small")
    _applications(big, [f"big-{n}" for n in range(500)])
    _applications(small, ["small-1"])
    return big, small


def test_an_unchanged_api_keeps_its_compiled_form(two_apis):
    _big, small = two_apis
    first = compile_snapshot(collect_snapshot("1.a"))
    Api.objects.filter(pk=small.pk).update(read_timeout=9)
    second = compile_snapshot(collect_snapshot("2.b"), first)
    big_then, big_now = first.apis[("big",)], second.apis[("big",)]
    assert big_now.applications is big_then.applications  # 500 applications not re-indexed
    assert big_now.routes is big_then.routes
    # The policy is new: the key store re-reads keys when the server objects change.
    assert big_now.policy is not big_then.policy
    assert second.apis[("small",)].applications is not first.apis[("small",)].applications
    assert second.apis[("small",)].read_timeout == 9
    assert second.apis[("small",)].applications.find({"client_id": "small-1"}).name == "small-1"
    assert second.apis[("big",)].applications.find({"client_id": "big-7"}).name == "big-7"


def test_a_changed_application_rebuilds_its_apis_index(two_apis):
    big, _small = two_apis
    first = compile_snapshot(collect_snapshot("1.a"))
    _applications(big, ["big-new"])
    Application.objects.filter(name="big-3").update(status="suspended")
    second = compile_snapshot(collect_snapshot("2.b"), first)
    assert second.apis[("big",)].applications is not first.apis[("big",)].applications
    assert second.apis[("big",)].applications.find({"client_id": "big-new"}).name == "big-new"
    assert second.apis[("big",)].applications.find({"client_id": "big-3"}).active is False
    assert first.apis[("big",)].applications.find({"client_id": "big-new"}) is None


def test_a_trusted_servers_change_rebuilds_the_apis_that_trust_it(two_apis):
    from authservers.models import AuthorizationServer

    _big, small = two_apis
    server = AuthorizationServer.objects.create(name="S", issuer="https://s.example.com")
    small.policy.authorization_servers.add(server)
    first = compile_snapshot(collect_snapshot("1.a"))
    AuthorizationServer.objects.filter(pk=server.pk).update(leeway_seconds=5)
    second = compile_snapshot(collect_snapshot("2.b"), first)
    policy = second.apis[("small",)].policy
    assert policy.servers_by_issuer["https://s.example.com"].leeway_seconds == 5
    assert second.apis[("big",)].applications is first.apis[("big",)].applications


def test_a_snapshot_without_digests_is_compiled_whole(two_apis):
    first = compile_snapshot(collect_snapshot("1.a"))
    older = collect_snapshot("2.b")
    del older["application_digests"]  # written by a version before incremental compiles
    second = compile_snapshot(older, first)
    assert second.apis[("big",)].applications is not first.apis[("big",)].applications


def test_a_snapshot_of_an_older_format_is_compiled_afresh_not_read(two_apis, settings, tmp_path):
    """A node upgraded in place finds its last snapshot file in the old format (application
    rows as a list): it compiles the version from the database instead of failing on it."""
    from core.config_version import database_version
    from proxy import snapshot_store
    from proxy.config import ConfigHolder

    settings.GATEWAY_STATE_DIR = str(tmp_path)
    version = database_version()
    older = collect_snapshot(version)
    older["format"] = 1
    older["applications"] = [[1, 2, "x", True, {"client_id": "x"}, None]]
    snapshot_store.write_file(older)

    holder = ConfigHolder()
    config = holder.current()
    assert config.apis[("big",)].applications.find({"client_id": "big-7"}).name == "big-7"
    assert snapshot_store.read_file()["format"] == 2  # the file now holds the new format
