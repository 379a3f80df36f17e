"""The control plane yields the CPU to the data plane (its request threads run at nice
10), but the thread that compiles and announces each config version does not: it is what
carries a change to every data-plane worker, and at nice 10 behind a busy data plane the
convergence bench saw it wait 100-500 ms (core/config_publisher.py, conf/admin.py)."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def _thread_nice_values(pid: int) -> dict[int, int]:
    values = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        # /proc/<pid>/task/<tid>/stat: "tid (comm) state ..."; nice is field 19.
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        values[int(task.name)] = int(fields[16])
    return values


def test_request_threads_yield_but_the_config_publisher_does_not(production_gateway):
    gateway = production_gateway(threads=4)
    (worker,) = gateway.worker_pids("admin")
    nice = _thread_nice_values(worker)
    assert nice[worker] == 10  # the main thread, and every thread it starts
    at_normal_priority = [tid for tid, value in nice.items() if value == 0]
    assert len(at_normal_priority) == 1, nice  # the publisher, started before the nice


def test_publisher_coalesces_a_burst_and_drains():
    from core.config_publisher import Publisher

    published = []
    publisher = Publisher(lambda version, number: published.append(number))
    for number in range(1, 50):
        publisher.submit(f"{number}.x", number)
    assert publisher.drain(timeout=10)
    assert published[-1] == 49  # the newest always ends up published
    assert published == sorted(published)  # never an older one after a newer
