"""Signing keys of the internal authorization server (see the internal-issuer issue)."""

from .jwks import KeyRejected


def published_jwks(server) -> list[dict]:
    raise KeyRejected("The internal issuer has no signing keys yet.")
