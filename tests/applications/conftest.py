import pytest

from tests.world import World, build_world


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Every application gets a hashed client secret; PBKDF2 would dominate."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db) -> World:
    """The internal issuer, an API trusting it and an application of that API."""
    return build_world()
