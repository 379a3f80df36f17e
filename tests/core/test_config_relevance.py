"""Only changes the data plane can see move the config version (issue 21).

Every version move makes each data-plane worker reload its configuration, so a
description edit, or any edit of an API that is not served, is audited but moves
nothing; a change the proxy reads still does, and reaches a running gateway.
"""

import pytest
from django.db import transaction

from apis.models import Api, Route
from apis.services import activate_api, save_api, save_route
from applications.models import Application
from applications.services import update_application
from authservers.services import save_server
from core.config_version import database_version
from core.models import AuditEvent

# Committed transactions: a version is published when its transaction commits.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def active_api(transactional_db):
    api = Api(name="Live", base_path="/live", upstream_url="http://127.0.0.1:9/")
    api.status = "active"
    return save_api(api)


@pytest.fixture
def inactive_api(transactional_db):
    return save_api(Api(name="Draft", base_path="/draft", upstream_url="http://127.0.0.1:9/"))


def _audited(instance) -> int:
    return AuditEvent.objects.filter(object_id=str(instance.pk)).count()


def test_a_description_edit_of_an_active_api_is_audited_but_keeps_the_version(active_api):
    version, events = database_version(), _audited(active_api)
    active_api.description = "Now with more pets."
    save_api(active_api)
    assert database_version() == version
    assert _audited(active_api) == events + 1  # still in the audit trail


def test_any_edit_of_an_inactive_api_keeps_the_version(inactive_api):
    version = database_version()
    inactive_api.upstream_url = "http://127.0.0.1:10/"
    inactive_api.read_timeout = 3
    save_api(inactive_api)
    route = save_route(Route(api=inactive_api, method="GET", path="/pets"))
    route.path = "/cats"
    save_route(route)
    assert database_version() == version


def test_what_the_proxy_reads_moves_the_version(active_api):
    version = database_version()
    active_api.read_timeout = 7
    save_api(active_api)
    moved = database_version()
    assert moved != version
    save_route(Route(api=active_api, method="GET", path="/pets"))
    assert database_version() != moved


def test_activation_moves_the_version(inactive_api):
    save_route(Route(api=inactive_api, method="GET", path="/pets", anonymous=True))
    from apis.models import IdentifyAndAuthorizePolicy
    from apis.services import save_policy

    save_policy(IdentifyAndAuthorizePolicy(api=inactive_api, allow_anonymous=True))
    version = database_version()
    assert activate_api(inactive_api) == []
    assert database_version() != version


def test_application_changes_move_the_version_only_when_the_proxy_sees_them(active_api):
    application = Application.objects.create(name="Client", identifying_claims={"sub": "a"})
    update_application(application, apis=[active_api])
    version = database_version()
    update_application(
        application, description="A nicer description", custom_claims={"tenant": "acme"}
    )
    assert database_version() == version  # the issuer's business, not the proxy's
    update_application(application, identifying_claims={"sub": "b"})
    assert database_version() != version


def test_an_application_on_no_served_api_keeps_the_version(inactive_api):
    application = Application.objects.create(name="Lonely", identifying_claims={"sub": "a"})
    version = database_version()
    update_application(application, apis=[inactive_api], identifying_claims={"sub": "b"})
    assert database_version() == version


def test_a_server_nobody_trusts_keeps_the_version_and_a_trusted_one_moves_it(active_api):
    from apis.models import IdentifyAndAuthorizePolicy
    from apis.services import save_policy
    from authservers.models import AuthorizationServer

    server = save_server(
        AuthorizationServer(name="Idp", kind="external", issuer="https://idp.example.com")
    )
    version = database_version()
    server.leeway_seconds = 30
    save_server(server)
    assert database_version() == version
    save_policy(
        IdentifyAndAuthorizePolicy(api=active_api, audiences=["x"]),
        authorization_servers=[server],
    )
    trusted = database_version()
    assert trusted != version
    server.leeway_seconds = 40
    save_server(server)
    assert database_version() != trusted


def test_a_raw_orm_write_still_moves_the_version(inactive_api):
    """Outside the services nobody judges the change: the signals stay conservative."""
    version = database_version()
    with transaction.atomic():
        Api.objects.get(pk=inactive_api.pk).save()
    assert database_version() != version


def test_a_relevant_change_reaches_the_gateway_and_an_irrelevant_one_does_not_reload(published):
    """Through a running gateway: the route edit is served after the reload, the
    description edit leaves the compiled config (and its version) as it was."""
    from proxy.config import config_holder

    token = published.token(scope="pets:read")
    assert published.get("/pets", token).status_code == 200
    served = config_holder.snapshot().version
    api = Api.objects.get(pk=published.api.pk)
    api.description = "Edited"
    save_api(api)
    published.gateway_wait_for_reload()
    assert published.get("/pets", token).status_code == 200
    assert config_holder.snapshot().version == served
    route = Route.objects.get(api=api, method="GET", path="/pets")
    route.path = "/animals"
    save_route(route)
    published.gateway_wait_for_reload()
    assert published.get("/animals", token).status_code == 200
    assert published.get("/pets", token).status_code == 405  # only POST /pets is left
    assert config_holder.snapshot().version != served
