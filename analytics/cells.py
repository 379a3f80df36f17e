"""A traffic cell: the calls of one minute for one API x application x status class."""

from dataclasses import dataclass, field

from analytics import histogram


@dataclass(slots=True)
class Cell:
    count: int = 0
    latency_ms_sum: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * histogram.SIZE)
    refusals: dict[str, int] = field(default_factory=dict)

    def add(self, other: "Cell") -> None:
        self.count += other.count
        self.latency_ms_sum += other.latency_ms_sum
        histogram.merge(self.buckets, other.buckets)
        for code, count in other.refusals.items():
            self.refusals[code] = self.refusals.get(code, 0) + count


# (minute start as epoch seconds, api id, application id, status class)
Key = tuple[int, int, int, int]
