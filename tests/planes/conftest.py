from tests.production import production_gateway  # noqa: F401 - fixture
