"""Production settings (README "Production hardening"): check --deploy, gunicorn.conf.py, HTTPS."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "gateway.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_PRELOAD": "true",
    # Admin-configured upstreams and issuers must not reach services on this host
    # (gateway_admin.W012 while loopback is allowed with DEBUG off).
    "GATEWAY_OUTBOUND_ALLOW_LOOPBACK": "false",
}


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_has_no_security_issue_with_the_documented_environment():
    result = manage("check", "--deploy", env=PRODUCTION_ENV)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Django's deployment checks and ours. (django-oauth-toolkit files its RFC 9700
    # warnings under the same "security" tag; those are the internal issuer's settings.)
    assert not re.search(r"\((security|gateway_admin)\.[WE]\d+\)", output), output


def test_check_deploy_warns_while_loopback_upstreams_are_allowed():
    env = {**PRODUCTION_ENV, "GATEWAY_OUTBOUND_ALLOW_LOOPBACK": "true"}
    result = manage("check", "--deploy", "--tag", "gatekeep", env=env)
    assert "gateway_admin.W012" in result.stdout + result.stderr


def test_a_malformed_outbound_list_stops_the_start_naming_the_variable():
    env = {**PRODUCTION_ENV, "GATEWAY_OUTBOUND_DENY": "10.0.0.0/8,0x7f000001"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "GATEWAY_OUTBOUND_DENY: '0x7f000001' is not a host name" in result.stderr


def test_check_deploy_refuses_the_development_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = manage("check", "--deploy", "--tag", "gatekeep", env=env)
    assert result.returncode != 0
    assert "gateway_admin.E001" in result.stdout + result.stderr


def print_config(conf: str, app: str) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", conf, "--print-config", app],
        cwd=ROOT,
        env={**os.environ, "GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return dict(
        (line.split("=", 1)[0].strip(), line.split("=", 1)[1].strip())
        for line in result.stdout.splitlines()
        if "=" in line
    )


def test_the_control_plane_conf_sets_the_documented_limits():
    config = print_config("conf/admin.py", "gateway_admin.wsgi:application")
    assert config["limit_request_line"] == "4094"
    assert config["limit_request_fields"] == "100"
    assert config["limit_request_field_size"] == "8190"
    assert config["header_map"] == "drop"
    assert config["permit_obsolete_folding"] == "False"
    assert config["worker_class"] == "gthread"
    assert config["forwarded_allow_ips"] == "['10.0.0.0/8']"
    assert config["forwarder_headers"] == "[]"
    assert config["bind"] == "['127.0.0.1:8001', '127.0.0.1:8002']"


def test_the_data_plane_conf_runs_uvicorn_workers_one_per_core():
    config = print_config("conf/public.py", "proxy.asgi:application")
    assert config["worker_class"] == "proxy.server.DataPlaneWorker"
    assert config["reuse_port"] == "True"  # connections spread across workers (bench/README.md)
    assert config["workers"] == str(os.cpu_count())
    assert config["bind"] == "['127.0.0.1:8000']"
    assert config["forwarded_allow_ips"] == "[]"  # the gateway judges X-Forwarded-* itself


def test_behind_a_tls_proxy_pages_redirect_to_https_and_send_hsts(published, production_gateway):
    gateway = production_gateway(
        env={
            "SECURE_SSL_REDIRECT": "true",
            "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
            "GATEWAY_TRUSTED_PROXIES": "127.0.0.1",
            "ALLOWED_HOSTS": "gateway.example.com,127.0.0.1",
        }
    )
    plain = requests.get(gateway.admin_url + "/admin/", allow_redirects=False, timeout=10)
    assert plain.status_code == 301
    assert plain.headers["Location"].startswith("https://")
    probe = requests.get(gateway.admin_url + "/healthz", timeout=10)
    assert probe.status_code == 200  # probes stay
    secure = requests.get(
        gateway.admin_url + "/admin/",
        headers={"X-Forwarded-Proto": "https"},
        allow_redirects=False,
        timeout=10,
    )
    assert secure.status_code == 302  # to the login page, now over "https"
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    for cookie in secure.cookies:
        assert cookie.secure
