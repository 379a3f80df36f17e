import pytest

from tests.production import production_gateway  # noqa: F401 - fixture


@pytest.fixture(autouse=True)
def snapshots_from_the_shared_cache(monkeypatch):
    """The realm publishes key snapshots to the cache, as a worker reads them under Redis;
    with the tests' process-local cache the key store would otherwise read the database."""
    monkeypatch.setattr("authservers.keysets.cache_is_shared", lambda: True)
