"""The resource kinds of a configuration file; importing this package registers them all.

To add a kind (another policy), add a module here with a registered
`Kind` subclass (see base.py) and import it below.
"""

from configfile.kinds import (  # noqa: F401
    apis,
    application_addresses,
    application_limits,
    applications,
    authservers,
    policy_chains,
    traffic_limits,
)
from configfile.kinds.base import REGISTRY, Context, Kind, Scope

__all__ = ["REGISTRY", "Context", "Kind", "Scope"]
