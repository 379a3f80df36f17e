"""The gateway's configuration as a file: deterministic, so the same config gives the same bytes.

Items are sorted by name (routes by path, then method); each item's keys come in a fixed
order; claim maps are sorted. No ids, timestamps or secrets (unless `secret_hashes`,
which writes each confidential client's stored hash, never the secret).
"""

from configfile import emit
from configfile.kinds import REGISTRY, Scope
from configfile.plan import FORMAT_VERSION, resolve_api_names, stored_api_names
from configfile.problems import ConfigInvalid, Problem


def dump(document: dict) -> str:
    return emit.dump(document)


def export_document(api_names: list[str] | None = None, *, secret_hashes: bool = False) -> dict:
    scope = Scope(secret_hashes=secret_hashes)
    document: dict = {"gatekeep": FORMAT_VERSION}
    if api_names:
        found, problems = resolve_api_names(api_names, stored_api_names())
        if problems:
            raise ConfigInvalid([Problem("--api", problem) for problem in problems])
        scope.apis = found
        document["scope"] = {"apis": sorted(found)}
    for kind in REGISTRY:
        if not scope.everything and not kind.selective:
            continue  # a selective file leaves applications and theirs out (not managed)
        items = kind.current(scope)
        document[kind.key] = [_tidy(items[name]) for name in sorted(items)]
    return document


def export_text(api_names: list[str] | None = None, *, secret_hashes: bool = False) -> str:
    return dump(export_document(api_names, secret_hashes=secret_hashes))


def _tidy(item: dict) -> dict:
    """Leave out what the file's defaults say anyway: no policy, no client id."""
    optional = {"policy", "client_id"}
    return {
        key: value for key, value in item.items() if key not in optional or value not in (None, "")
    }
