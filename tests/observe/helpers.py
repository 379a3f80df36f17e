"""Reading what the gateway exposes: Prometheus samples as {(name, labels): value}."""

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str, prefix: str = "gatekeep_") -> dict[tuple, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith(prefix):
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def local_samples() -> dict[tuple, float]:
    """This process's metrics (tests run the data plane in-process, no multiprocess dir)."""
    from proxy import metrics

    body, _ = metrics.render()
    return samples(body.decode())
