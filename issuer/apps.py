from django.apps import AppConfig


class IssuerConfig(AppConfig):
    """The internal OAuth2/OpenID issuer: token, authorize, JWKS and discovery endpoints."""

    name = "issuer"
    verbose_name = "Internal token issuer"

    def ready(self) -> None:
        from issuer import signals

        signals.connect()
