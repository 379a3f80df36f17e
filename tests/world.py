"""A small gateway configuration for the role and revocation tests, built in-process.

The internal issuer (with its active and next signing keys), an inactive API ready to
activate that trusts it, and an application associated with the API.
"""

from dataclasses import dataclass

from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from applications.models import Application
from applications.services import create_application
from authservers.models import AuthorizationServer
from authservers.signing import ensure_signing_keys
from tests.signing_keys import publish_next_key_long_ago

ISSUER = "https://gatekeep.example.com"


@dataclass
class World:
    server: AuthorizationServer
    api: Api
    application: Application
    secret: str

    def reload(self) -> "World":
        for obj in (self.server, self.api, self.application):
            obj.refresh_from_db()
        return self


def build_world() -> World:
    server = AuthorizationServer.objects.create(
        name="Gatekeep", kind="internal", issuer=ISSUER, default_audience="petstore"
    )
    ensure_signing_keys(server, "ES256")  # RSA key generation would dominate the tests
    publish_next_key_long_ago(server)  # a configured gateway: its next key may sign
    api = Api.objects.create(
        name="Petstore", version="v1", base_path="/petstore/v1", upstream_url="http://127.0.0.1:9"
    )
    Route.objects.create(api=api, method="GET", path="/pets", required_scopes=["pets:read"])
    policy = IdentifyAndAuthorizePolicy.objects.create(api=api, audiences=["petstore"])
    policy.authorization_servers.add(server)
    application, secret = create_application(name="Petstore client", apis=[api])
    return World(server, api, application, secret)
