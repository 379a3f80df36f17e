"""The bounded latency histogram every rollup row carries, and percentiles read from it.

Fixed bucket bounds (milliseconds), the same everywhere: rows of any minute, node or
worker add up bucket by bucket, and a percentile costs nothing to merge. The last
bucket counts everything slower than the last bound.
"""

from bisect import bisect_left

BOUNDS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
SIZE = len(BOUNDS_MS) + 1


def bucket_of(milliseconds: float) -> int:
    return bisect_left(BOUNDS_MS, milliseconds)


def merge(into: list[int], other: list[int]) -> list[int]:
    if len(into) < SIZE:
        into.extend([0] * (SIZE - len(into)))
    for index, count in enumerate(other[:SIZE]):
        into[index] += int(count)
    return into


def percentile(buckets: list[int], fraction: float) -> float | None:
    """The latency (ms) below which `fraction` of the calls fell, interpolated in its bucket.

    Past the last bound the answer is the last bound: "at least 10 s".
    """
    total = sum(buckets)
    if total == 0:
        return None
    wanted = fraction * total
    seen = 0
    for index, count in enumerate(buckets):
        if count and seen + count >= wanted:
            if index >= len(BOUNDS_MS):
                return float(BOUNDS_MS[-1])
            lower = BOUNDS_MS[index - 1] if index else 0.0
            upper = BOUNDS_MS[index]
            return lower + (upper - lower) * (wanted - seen) / count
        seen += count
    return float(BOUNDS_MS[-1])
