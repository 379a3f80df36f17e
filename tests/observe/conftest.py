from tests.production import production_gateway, redis_server  # noqa: F401 - fixtures
