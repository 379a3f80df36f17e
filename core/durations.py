"""Durations in words, for messages admins read."""


def human_duration(seconds: float) -> str:
    """Seconds as the largest sensible unit: "45 s", "5 min", "3 h", "2 days"."""
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size * (2 if unit == "days" else 1):
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"
