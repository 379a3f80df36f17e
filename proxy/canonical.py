"""Paths no common server reads differently: what the route table matched is what the
upstream receives.

The gateway matches the decoded path, split on "/", and sends the upstream those
same segments re-encoded (proxy/forward.upstream_path). A segment that some server
would read as something else is refused with 400 rather than forwarded.

Refused segments, and why:
- `.` or `..`: a dot segment; the upstream would resolve it (traversal).
- `;` (`/admin;/x`, `..;`, `%3b`): Tomcat, Jetty and Spring strip "path parameters",
  so `/admin;x/` is `/admin/` there.
- `\\` (raw or `%5C`): IIS and some Windows and Java stacks read it as a separator.
- `%` after decoding (`%252e`): a server that decodes twice would see `.`, `/` or `;`.
- `%2F` anywhere in the raw path (checked in proxy/app.py, before decoding): routing
  would see a separator where some servers and front proxies see a character.
- control characters, NUL, an undecodable byte: truncation or normalisation differs.
- a trailing `.`, a leading or trailing space or tab: IIS and Windows trim them.
- a case variant of a route's literal segment (proxy/routing.py): case-insensitive
  servers (IIS, some Spring setups) would serve `/Admin/x` as `/admin/x`.

Repeated slashes collapse (`/a//b` is `/a/b` for the route table and the upstream alike).
"""

import re

from proxy.errors import InvalidRequest

_AMBIGUOUS = re.compile(r"[;\\%\x00-\x1f\x7f\ufffd]")


def refuse_ambiguous(segments: list[str]) -> None:
    for segment in segments:
        if segment in {".", ".."}:
            raise InvalidRequest("The path must not contain '.' or '..' segments.", check="route")
        if _AMBIGUOUS.search(segment):
            raise InvalidRequest(
                "The path contains ';', '\\\\', '%' (after decoding), a control character or an "
                "invalid percent-encoding, which servers read differently; encode the "
                "resource name differently.",
                check="route",
            )
        if segment.endswith(".") or segment != segment.strip(" \t"):
            raise InvalidRequest(
                "A path segment ends with '.' or starts or ends with a space, which some "
                "servers trim; remove it.",
                check="route",
            )
