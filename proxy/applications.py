"""Which application a token belongs to: a compact index from claim values.

With 100,000 applications the index is most of a worker's config, so it is kept
small: every application appears once in an `ApplicationTable` (parallel arrays,
no object per application), and each API's `ApplicationIndex` maps claim values
to a row number of that table. A lookup builds the `ApplicationConfig` it returns.
"""

from array import array
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ApplicationConfig:
    id: int
    name: str
    active: bool


class ApplicationTable:
    """Every application of the config, one row each, shared by all APIs."""

    __slots__ = ("_active", "_ids", "_names", "_rows")

    def __init__(self) -> None:
        self._ids = array("q")
        self._names: list[str] = []
        self._active = bytearray()
        self._rows: dict[int, int] | None = {}  # application id → row; dropped by seal()

    def row(self, app_id: int, name: str, active: bool) -> int:
        """The row of this application, added on first sight."""
        row = self._rows.get(app_id)
        if row is None:
            row = self._rows[app_id] = len(self._names)
            self._ids.append(app_id)
            self._names.append(name)
            self._active.append(active)
        return row

    def seal(self) -> None:
        """Drop the build-time id → row map: look-ups only go row → application."""
        self._rows = None

    def __getitem__(self, row: int) -> ApplicationConfig:
        return ApplicationConfig(self._ids[row], self._names[row], bool(self._active[row]))


class ApplicationIndex:
    """Finds the application whose identifying claims all match a token's claims.

    Applications are grouped by the set of claim names they use; each group is a
    dict from the claim values to a table row, so a lookup costs one dict probe per
    distinct claim-name set, most specific set first. A group of one claim name (the
    common case) is keyed by the bare value rather than a 1-tuple.
    """

    __slots__ = ("_building", "_groups", "_table")

    def __init__(self, table: ApplicationTable):
        self._table = table
        self._groups: list[tuple[tuple[str, ...], dict]] = []
        self._building: dict[tuple[str, ...], dict] = {}

    def add(self, claims: dict[str, str], row: int) -> None:
        names = tuple(sorted(claims))
        if not names:
            return
        key = claims[names[0]] if len(names) == 1 else tuple(claims[n] for n in names)
        self._building.setdefault(names, {})[key] = row

    def seal(self) -> "ApplicationIndex":
        self._groups = sorted(self._building.items(), key=lambda item: -len(item[0]))
        del self._building
        return self

    def claim_names(self) -> list[str]:
        """Every claim name some application of this API is identified by (diagnostics)."""
        return sorted({name for names, _ in self._groups for name in names})

    def find(self, claims: dict) -> ApplicationConfig | None:
        for names, by_values in self._groups:
            if len(names) == 1:
                key = claims.get(names[0])
            else:
                key = tuple(claims.get(name) for name in names)
            try:
                row = by_values.get(key)
            except TypeError:  # a list or object claim cannot equal a configured string
                continue
            if row is not None:
                return self._table[row]
        return None
