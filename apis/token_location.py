"""Where an API's policy has the client carry its token: one definition for every plane.

The proxy reads the token from there (proxy/identify.py) and keeps it from the
upstream (proxy/forward.py); the token inspector puts it there (proxy/inspector.py)
and the console's curl example shows it there (console/apis.py).
"""

from dataclasses import dataclass, field

from apis.choices import IdentitySource

DEFAULT_SOURCE = IdentitySource.HEADER
DEFAULT_NAME = "Authorization"


def environ_key(header_name: str) -> str:
    """The WSGI/CGI environ key of a request header: `X-Api-Token` → `HTTP_X_API_TOKEN`."""
    return "HTTP_" + header_name.upper().replace("-", "_")


@dataclass(frozen=True, slots=True)
class TokenLocation:
    """A header, query parameter or cookie, by name (IdentifyAndAuthorizePolicy's fields)."""

    source: str  # an IdentitySource value
    name: str
    # For a header: where a WSGI-style environ holds it (computed once, read per request).
    environ_key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "environ_key", environ_key(self.name))

    @classmethod
    def of(cls, policy) -> "TokenLocation":
        """The location a policy (the model or the proxy's PolicyConfig) names; without a
        policy, the Authorization header."""
        if policy is None:
            return DEFAULT
        return cls(policy.identity_source, policy.identity_name)

    @property
    def in_header(self) -> bool:
        return self.source not in (IdentitySource.QUERY, IdentitySource.COOKIE)

    @property
    def in_query(self) -> bool:
        return self.source == IdentitySource.QUERY

    @property
    def in_cookie(self) -> bool:
        return self.source == IdentitySource.COOKIE

    def header_value(self, token: str) -> str:
        """How the header carries the token: Authorization as a bearer credential (RFC 6750
        §2.1), another header as the bare token. The proxy reads either form in any header."""
        return f"Bearer {token}" if self.name.lower() == "authorization" else token

    def pair(self, value: str) -> str:
        """`name=value`, as a query parameter or a cookie carries it; the caller encodes
        `value` where it needs to."""
        return f"{self.name}={value}"


DEFAULT = TokenLocation(DEFAULT_SOURCE, DEFAULT_NAME)
