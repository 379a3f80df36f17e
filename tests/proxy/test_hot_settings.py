"""The settings a proxied call reads are copies (core/hot_settings.py): they must follow
every change, or a test (or override_settings) would set a limit the gateway ignores."""

import pytest

from core.hot_settings import hot
from proxy.errors import InvalidToken
from proxy.tokens import validate_token


def test_the_copies_follow_setting_changes(settings):
    settings.GATEWAY_MAX_TOKEN_BYTES = 123
    settings.GATEWAY_KEYS_POLL_SECONDS = 7
    assert (hot.GATEWAY_MAX_TOKEN_BYTES, hot.GATEWAY_KEYS_POLL_SECONDS) == (123, 7)


def test_a_changed_token_limit_applies_to_the_next_token(settings):
    settings.GATEWAY_MAX_TOKEN_BYTES = 100
    with pytest.raises(InvalidToken, match="too long"):
        validate_token("a" * 200, policy=None)  # refused before the policy is looked at
