"""An app's back-channel logout endpoint on loopback (OpenID Connect Back-Channel Logout 1.0
§2.5): a real HTTP server that records each POST and answers with the status set for its
path (200 unless told otherwise; None: it drops the connection without an answer), and the logout token check an app makes, done with
joserfc and the JWKS the pool publishes (nothing of Cognate's code).

    with LogoutReceiver() as receiver:
        ... --backchannel-logout-url receiver.url("/a") ...
        (post,) = receiver.wait(1)
        claims = verified_logout_token(post.form["logout_token"], issuer, jwks_uri, client_id)
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import requests
from joserfc import jwt
from joserfc.jwk import KeySet

EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass(frozen=True)
class Post:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


class LogoutReceiver:
    def __init__(self) -> None:
        self.posts: list[Post] = []
        #: The status to answer a path with (200 unless set); None: no answer at all.
        self.status: dict[str, int | None] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.posts.append(Post(self.path, dict(self.headers.items()), body))
                status = receiver.status.get(self.path, 200)
                if status is None:  # no answer: the connection is dropped
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LogoutReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait(self, count: int, timeout: float = 15, path: str | None = None) -> list[Post]:
        """The posts (to ``path``, if given) once there are ``count`` of them; then a moment
        more, so that an extra one would be seen too."""
        deadline = time.time() + timeout
        while time.time() < deadline and len(self.of(path)) < count:
            time.sleep(0.05)
        time.sleep(0.5)
        return self.of(path)

    def of(self, path: str | None) -> list[Post]:
        with self._lock:
            return [p for p in self.posts if path is None or p.path == path]


def verified_logout_token(token: str, issuer: str, jwks_uri: str, client_id: str) -> dict[str, Any]:
    """The claims of a logout token checked as §2.6 tells an app to: signature with the
    issuer's published keys, ``typ`` ``logout+jwt``, ``iss``, ``aud``, ``iat``, ``exp``,
    ``jti``, the back-channel logout event, ``sub`` or ``sid``, and no ``nonce``."""
    keys = KeySet.import_key_set(requests.get(jwks_uri, timeout=10).json())
    decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256"])
    assert decoded.header["typ"] == "logout+jwt", decoded.header
    claims = decoded.claims
    jwt.JWTClaimsRegistry(iss={"essential": True, "value": issuer}, aud={"essential": True, "value": client_id},
                          iat={"essential": True}, exp={"essential": True},
                          jti={"essential": True}).validate(claims)
    assert claims["events"] == {EVENT: {}}, claims
    assert "sub" in claims or "sid" in claims, claims
    assert "nonce" not in claims, claims
    assert 0 < claims["exp"] - claims["iat"] <= 300 and abs(claims["iat"] - time.time()) < 60, claims
    return claims
