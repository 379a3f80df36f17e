"""A throwaway OpenID provider for trying Gatekeep locally. Never use it for anything real.

    .venv/bin/python scripts/dev_idp.py [--port 9100]

Serves /.well-known/openid-configuration and /jwks, and mints RS256 tokens at
/token?client_id=…&aud=…&scope=…&sub=… so the README walkthrough needs no real IdP.
"""

import argparse
import json
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from jwcrypto import jwk, jwt

KEY = jwk.JWK.generate(
    kty="RSA", size=2048, kid=f"dev-{uuid.uuid4().hex[:8]}", alg="RS256", use="sig"
)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        url = urlsplit(self.path)
        if url.path == "/.well-known/openid-configuration":
            self._json(
                {
                    "issuer": issuer,
                    "jwks_uri": f"{issuer}/jwks",
                    "token_endpoint": f"{issuer}/token",
                }
            )
        elif url.path == "/jwks":
            self._json({"keys": [KEY.export_public(as_dict=True)]})
        elif url.path == "/token":
            query = {name: values[0] for name, values in parse_qs(url.query).items()}
            now = int(time.time())
            claims = {
                "iss": issuer,
                "sub": query.get("sub", "demo-user"),
                "aud": query.get("aud", "files"),
                "client_id": query.get("client_id", "files-client"),
                "scope": query.get("scope", "files:read"),
                "iat": now,
                "nbf": now,
                "exp": now + int(query.get("lifetime", "3600")),
                "jti": uuid.uuid4().hex,
            }
            token = jwt.JWT(header={"alg": "RS256", "kid": KEY["kid"], "typ": "JWT"}, claims=claims)
            token.make_signed_token(KEY)
            self._json(
                {"access_token": token.serialize(), "token_type": "Bearer", "claims": claims}
            )
        else:
            self._json({"error": "not found"}, 404)

    def _json(self, data: dict, status: int = 200) -> None:
        body = json.dumps(data, indent=2).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9100)
    port = parser.parse_args().port
    print(f"Dev IdP: issuer http://127.0.0.1:{port}  (token: /token?client_id=files-client)")
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
