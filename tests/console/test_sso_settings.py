"""Single sign-on settings: a bad configuration stops start-up with the variable's name,
and groups map onto the highest role."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from accounts.roles import Role
from accounts.sso import groups_of, role_for


def _check(**env) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {
                "GATEWAY_CONSOLE_OIDC_ISSUER": "http://idp.example.com",
                "GATEWAY_CONSOLE_OIDC_CLIENT_ID": "c",
            },
            "GATEWAY_CONSOLE_OIDC_ISSUER must be an https:// URL",
        ),
        (
            {"GATEWAY_CONSOLE_OIDC_ISSUER": "https://idp.example.com"},
            "needs both GATEWAY_CONSOLE_OIDC_ISSUER",
        ),
        (
            {
                "GATEWAY_CONSOLE_OIDC_ISSUER": "https://idp.example.com",
                "GATEWAY_CONSOLE_OIDC_CLIENT_ID": "c",
                "GATEWAY_CONSOLE_OIDC_ROLE_MAP": "admins=root",
            },
            "GATEWAY_CONSOLE_OIDC_ROLE_MAP: each entry is group=viewer|operator|administrator",
        ),
    ],
)
def test_a_bad_configuration_stops_start_up(env, message):
    result = _check(**env)
    assert result.returncode != 0
    assert message in result.stderr


def test_the_highest_mapped_group_wins():
    mapping = {"a": Role.VIEWER, "b": Role.ADMINISTRATOR, "c": Role.OPERATOR}
    assert role_for(["a", "c", "x"], mapping) == Role.OPERATOR
    assert role_for(["b", "a"], mapping) == Role.ADMINISTRATOR
    assert role_for(["x"], mapping) is None
    assert role_for([], mapping) is None


def test_groups_come_as_a_list_or_a_string_and_nothing_else_counts():
    assert groups_of({"groups": ["a", 5, None, "b"]}, "groups") == ["a", "b"]
    assert groups_of({"groups": "a b,c"}, "groups") == ["a", "b", "c"]
    assert groups_of({"groups": {"a": True}}, "groups") == []
    assert groups_of({}, "groups") == []
