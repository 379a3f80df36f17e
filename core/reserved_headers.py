"""Request headers only the gateway may write: the proxy strips the client's copies
(proxy/headers.py, proxy/forward.py) and no transformation may write them
(policies/validators.py). One list, so the two can never disagree."""

# RFC 9110 §7.6.1: meaningful for one connection only.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "proxy-connection",
        "keep-alive",
        "te",
        "transfer-encoding",
        "upgrade",
        "trailer",
        "trailers",
        "proxy-authorization",
        "proxy-authenticate",
    }
)
# Where a request came from. Only the gateway writes them; a client's own values are
# never passed on.
FORWARDING_HEADERS = frozenset(
    {
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-port",
        "x-forwarded-prefix",
        "x-forwarded-server",
        "x-forwarded-ssl",
        "x-forwarded-protocol",
        "x-real-ip",
        "forwarded",
        "via",
    }
)
# Headers some frameworks read as the "real" path or method (IIS/Symfony/Spring,
# Rails/Express method overrides): the route table decided on the request line,
# so nothing may re-decide it behind the gateway's back.
OVERRIDE_HEADERS = frozenset(
    {
        "x-original-url",
        "x-rewrite-url",
        "x-original-uri",
        "x-http-method-override",
        "x-http-method",
        "x-method-override",
        "x-http-destinationurl",
    }
)
# Framing is the gateway's to decide; the client's is never passed on.
FRAMING_HEADERS = frozenset({"host", "content-length", "x-request-id"})
