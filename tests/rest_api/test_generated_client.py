"""A Python client generated from the live schema runs the README's walkthrough.

openapi-python-client turns /api/v1/schema/, as the running gateway serves it, into a
typed client; the walkthrough of README.md ("Five-minute walkthrough") is then done
through that client alone: an external authorization server (the test IdP), an API with
a greedy route and its policy, an application, activation, a call through the gateway
with the IdP's token, and the token inspector. Operation ids become the client's
function names and component names its classes, so a regression in either breaks this.
"""

import importlib
import json
import subprocess
import sys
import time

import pytest
import requests
from rest_framework.authtoken.models import Token

from accounts.roles import Role
from tests.personas import staff_member
from tests.tokens import claims_for, sign

PACKAGE = "gatekeep_client"


@pytest.fixture
def client_package(gateway, tmp_path):
    """An authenticated client of the running gateway, from the package generated for it."""
    admin = staff_member("ada", Role.ADMINISTRATOR)
    key = Token.objects.create(user=admin).key
    response = requests.get(
        f"{gateway.admin_url}/api/v1/schema/?format=json",
        headers={"Authorization": f"Token {key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    (tmp_path / "schema.json").write_text(response.text)
    (tmp_path / "config.json").write_text(
        json.dumps({"package_name_override": PACKAGE, "post_hooks": []})
    )
    generated = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(tmp_path / "schema.json"),
            "--config",
            str(tmp_path / "config.json"),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    # The generator warns about each part of the schema it cannot map.
    assert "Warning" not in generated.stdout + generated.stderr, generated.stdout
    sys.path.insert(0, str(tmp_path))
    try:
        package = importlib.import_module(PACKAGE)
        client = package.AuthenticatedClient(
            base_url=gateway.admin_url, token=key, prefix="Token", raise_on_unexpected_status=True
        )
        yield client
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.partition(".")[0] == PACKAGE]:
            del sys.modules[name]


def _module(name: str):
    return importlib.import_module(f"{PACKAGE}.{name}")


def _operation(tag: str, operation_id: str):
    """The generated module of one operation: api/<tag>/<operation id in snake case>."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in operation_id)
    return _module(f"api.{tag}.{snake}")


def test_the_readme_walkthrough_through_a_generated_client(
    client_package, gateway, idp, upstream, rsa_key
):
    client = client_package
    models = _module("models")

    # 2. Configure the gateway: the issuer, the API, its route and policy, the application.
    server = _operation("authorization_servers", "createAuthorizationServer").sync(
        client=client,
        body=models.AuthorizationServerRequest(
            name="dev-idp", kind=models.ServerKindEnum.EXTERNAL, issuer=idp.issuer
        ),
    )
    assert isinstance(server, models.AuthorizationServer), server
    api = _operation("apis", "createApi").sync(
        client=client,
        body=models.ApiRequest(
            name="Files", version="v1", base_path="/files/v1", upstream_url=upstream.url
        ),
    )
    assert isinstance(api, models.Api) and api.status == models.ApiStatusEnum.INACTIVE
    route = _operation("apis", "createApiRoute").sync(
        api_pk=api.id,
        client=client,
        body=models.RouteRequest(
            method=models.RouteMethodEnum.GET, path="/{path+}", required_scopes=["files:read"]
        ),
    )
    assert isinstance(route, models.Route), route
    policy = _operation("apis", "putApiPolicy").sync(
        id=api.id,
        client=client,
        body=models.PolicyRequest(authorization_servers=[server.id], audiences=["files"]),
    )
    assert isinstance(policy, models.Policy) and policy.authorization_servers == [server.id]
    created = _operation("applications", "createApplication").sync(
        client=client,
        body=models.ApplicationCreateRequest(
            name="Files client",
            identifying_claims=models.ApplicationCreateRequestIdentifyingClaims.from_dict(
                {"client_id": "files-client"}
            ),
            apis=[api.id],
        ),
    )
    assert isinstance(created, models.ApplicationCreated) and created.client_secret
    activated = _operation("apis", "activateApi").sync(id=api.id, client=client)
    assert activated.status == models.ApiStatusEnum.ACTIVE, activated

    # 3. Call it: refused without a token, forwarded with the IdP's.
    url = f"{gateway.url}/gateway/files/v1/README.md"
    token = sign(
        rsa_key, claims_for(idp.issuer, client_id="files-client", aud="files", scope="files:read")
    )
    deadline = time.monotonic() + 10
    while True:  # the data plane picks the new configuration up within its poll interval
        answer = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        if answer.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert answer.status_code == 200, answer.text
    assert requests.get(url, timeout=10).status_code == 401
    inspection = _operation("token_inspector", "inspectToken").sync(
        client=client,
        body=models.InspectedCallRequest(
            token=f"{token}x", api=api.id, method=models.CallMethodEnum.GET, path="/README.md"
        ),
    )
    assert isinstance(inspection, models.TokenInspection) and not inspection.allowed
    assert inspection.status == 401 and inspection.trace

    # Listing with the typed ordering and page size; errors as typed problems.
    page = _operation("apis", "listApis").sync(
        client=client, ordering=[models.ListApisOrderingItem("-name")], page_size=1
    )
    assert isinstance(page, models.PaginatedApiList)
    assert (page.count, [item.name for item in page.results]) == (1, ["Files"])
    missing = _operation("apis", "listApis").sync(client=client, page=2)
    assert isinstance(missing, models.ProblemDetails) and missing.code == "page_not_found"
    unknown = _operation("apis", "getApi").sync(id=999999, client=client)
    assert isinstance(unknown, models.ProblemDetails) and unknown.code == "not_found"
    events = _operation("audit_events", "listAuditEvents").sync(client=client, page_size=500)
    created_api = [e for e in events.results if e.action == "create" and e.object_type == "api"]
    assert created_api and created_api[0].after["name"] == "Files"
