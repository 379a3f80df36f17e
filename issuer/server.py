"""oauthlib's OpenID Connect server, wired to the issuing AuthorizationServer."""

from oauthlib.openid import Server

from issuer.tokens import access_token_lifetime, prepare_token


class GatewayOAuth2Server(Server):
    """The all-grants server with a per-issuer lifetime and the issuer/audience step.

    Django settings cannot hold callables, so these two hooks are set here rather
    than through OAUTH2_PROVIDER["EXTRA_SERVER_KWARGS"].
    """

    def __init__(self, request_validator, **kwargs):
        kwargs["token_expires_in"] = access_token_lifetime
        super().__init__(request_validator, **kwargs)
        for grant in (
            self.auth_grant,
            self.openid_connect_auth,  # the code grant when `openid` was asked for
            self.password_grant,
            self.credentials_grant,
            self.refresh_grant,
        ):
            # oauthlib's documented hook: runs after client, grant and scopes are validated.
            grant.custom_validators.post_token.append(prepare_token)
