"""The resource kinds of a configuration file; importing this package registers them all.

To add a kind (rate limits, another policy), add a module here with a registered
`Kind` subclass (see base.py) and import it below.
"""

from configfile.kinds import apis, applications, authservers  # noqa: F401
from configfile.kinds.base import REGISTRY, Context, Kind, Scope

__all__ = ["REGISTRY", "Context", "Kind", "Scope"]
