"""A third-party relying party in Node (openid-client 6, jose 6) against the internal issuer.

tests/issuer/node/interop.mjs does discovery, a client_credentials grant verified with
jose's remote JWKS, an authorization-code + PKCE flow (this test plays the user through
login and consent), checks the ID token (signature, nonce, at_hash), calls userinfo,
introspects and revokes. `.ci/run` installs its packages (`npm ci`); a local run
installs them on first use.
"""

import json
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from tests.issuer.conftest import REDIRECT_URI, hidden_inputs

NODE_DIR = Path(__file__).parent / "node"
TIMEOUT = 60


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Node interop test needs Node 20+ and npm")
    if not (NODE_DIR / "node_modules" / "openid-client").is_dir():
        npm = shutil.which("npm")
        assert npm, "npm is missing: run `npm ci` in tests/issuer/node"
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=180
        )
    return node


def _consent(browser, url: str) -> str:
    page = browser.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    approved = browser.post(
        page.url,
        data=hidden_inputs(page.text) | {"allow": "Authorize"},
        allow_redirects=False,
        timeout=10,
    )
    assert approved.status_code == 302, approved.text
    return approved.headers["Location"]


def test_openid_client_and_jose_accept_the_issuer(issuer, browser):
    node = _node()
    process = subprocess.Popen(
        [
            node,
            "interop.mjs",
            issuer.url,
            issuer.client_id,
            issuer.secret,
            REDIRECT_URI,
            "petstore",
        ],
        cwd=NODE_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(TIMEOUT, process.kill)
    watchdog.start()
    try:
        messages = []
        for line in process.stdout:
            message = json.loads(line)
            messages.append(message)
            if "authorize" in message:
                process.stdin.write(_consent(browser, message["authorize"]) + "\n")
                process.stdin.flush()
            if "ok" in message:
                break
        process.stdin.close()
        process.wait(timeout=10)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
    assert messages, process.stderr.read()
    result = messages[-1]
    assert result.get("ok") is True, result
    assert result["client_credentials"] == {"alg": "RS256", "sub": issuer.client_id}
    assert result["id_token"]["sub"] == str(issuer.user.pk)
    assert result["id_token"]["alg"] == "RS256"
    assert result["userinfo"] == {
        "sub": str(issuer.user.pk),
        "preferred_username": "alice",
        "email": "alice@example.com",
    }
    assert result["introspection"]["active"] is True
    assert result["revocation"] is True
