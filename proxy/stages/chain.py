"""An API's compiled policy chain and the two points where proxy/pipeline.py runs it.

`before()` is stage 1 and the API's part of stage 2 (before the token is read);
`after()` is the application's part of stage 2 and, for the token inspector's
trace, what stages 3-5 will do. The request and response steps of stages 3-5 run
in proxy/app.py and proxy/forward.py (one call each).
"""

from dataclasses import dataclass
from operator import itemgetter

from proxy.stages.balancer import BalancerConfig, compile_balancer, state
from proxy.stages.client_addresses import AddressLists, check_address, compile_lists
from proxy.stages.cors import CorsConfig, apply_cors, compile_cors
from proxy.stages.request_limits import LimitsConfig, check_head, compile_limits
from proxy.stages.transform import TransformConfig, compile_transforms

_first = itemgetter(0)


@dataclass(frozen=True, slots=True)
class Chain:
    cors: CorsConfig | None = None
    addresses: AddressLists | None = None
    application_addresses: dict[int, AddressLists] | None = None  # application id → lists
    limits: LimitsConfig | None = None
    transforms: TransformConfig | None = None
    balancer: BalancerConfig | None = None

    def before(self, environ: dict, trace: list | None) -> None:
        if self.cors is not None:
            apply_cors(self.cors, environ, trace)
        if self.limits is not None:
            check_head(self.limits, environ, trace)
        if self.addresses is not None:
            check_address(self.addresses, environ, trace, "API")

    def after(self, decision, environ: dict, trace: list | None) -> None:
        if self.application_addresses and decision.application is not None:
            lists = self.application_addresses.get(decision.application.id)
            if lists is not None:
                check_address(lists, environ, trace, "application")
        if trace is not None:
            self._describe_later_stages(trace)

    def response_headers(
        self, decision, environ: dict, headers: list[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        """Stage 5: the response transformations, then the CORS headers of stage 1 (an
        upstream's own Access-Control-* headers never widen the API's CORS policy)."""
        transforms = self.transforms
        if transforms is not None:  # the response rules (transform.py), in place
            by_route = transforms.response_by_route  # empty unless a rule is a route's own
            steps = (
                by_route.get(decision.route.id, transforms.response_all)
                if by_route
                else transforms.response_all
            )
            for step in steps:
                step(decision, headers)
        if self.cors is not None:
            # The names as one string: a look for the prefix without a Python loop.
            if b"\naccess-control-" in b"\n" + b"\n".join(map(_first, headers)):
                headers = [(n, v) for n, v in headers if not n.startswith(b"access-control-")]
            headers.extend(environ.get("gatekeep.cors", ()))
        return headers

    def _describe_later_stages(self, trace: list) -> None:
        if self.transforms is not None:
            trace.append(
                {
                    "check": "transform",
                    "ok": True,
                    "detail": f"{len(self.transforms.request)} request and "
                    f"{len(self.transforms.response)} response rules will apply (per route).",
                }
            )
        if self.balancer is not None:
            healthy = [t.url for t in self.balancer.targets if state(t.id).healthy]
            trace.append(
                {
                    "check": "routing",
                    "ok": True,
                    "detail": f"{self.balancer.algorithm.replace('_', ' ')} over "
                    f"{len(self.balancer.targets)} targets, {len(healthy)} in rotation "
                    "(as this process sees them).",
                }
            )


EMPTY_CHAIN = Chain()


def compile_chain(
    api_id: int, data: dict | None, reserved_headers: frozenset[str] = frozenset()
) -> Chain:
    """The compiled chain of one API from its snapshot data (policies/snapshot.py)."""
    if not data:
        return EMPTY_CHAIN
    addresses = data.get("addresses")
    per_application = {
        app_id: compile_lists(allow, deny)
        for app_id, allow, deny in data.get("application_addresses", ())
    }
    return Chain(
        cors=compile_cors(data.get("cors")),
        addresses=compile_lists(addresses["allow"], addresses["deny"]) if addresses else None,
        application_addresses=per_application or None,
        limits=compile_limits(data.get("limits")),
        transforms=compile_transforms(data.get("transforms"), reserved_headers),
        balancer=compile_balancer(api_id, data.get("targets"), data.get("balancing")),
    )
