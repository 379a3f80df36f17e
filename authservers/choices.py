from django.db import models


class ServerKind(models.TextChoices):
    INTERNAL = "internal", "Internal (this gateway issues tokens)"
    EXTERNAL = "external", "External OpenID provider"


# Asymmetric JWS algorithms the validator implements. HS* is deliberately absent:
# a shared secret would let every API that trusts the server mint tokens.
SUPPORTED_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
DEFAULT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256"]

# Upper bounds of a server's durations: each must fit every clock and column it reaches
# (an unbounded lifetime overflowed the token's expiry date).
DAY = 86400
MAX_STALE_SECONDS = 30 * DAY
MAX_TOKEN_LIFETIME_SECONDS = 30 * DAY
