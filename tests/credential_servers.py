"""Real parts for the credential tests: a fake cloud on 127.0.0.1:0 (an ECS or EC2
metadata service in hardened token mode, plus an STS-like `/sts` endpoint for
credential-process scripts) handing out keys from the local endpoint's `StsIssuer`,
and a real credential-process script."""

from __future__ import annotations

import json
import secrets
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ossync.core.credentials import Credentials
from ossync.localoss.sts import StsIssuer

ECS_PATHS = {"ttl": "X-aliyun-ecs-metadata-token-ttl-seconds",
             "token": "X-aliyun-ecs-metadata-token",
             "roles": "/latest/meta-data/ram/security-credentials/",
             "secret": "AccessKeySecret", "session": "SecurityToken"}
EC2_PATHS = {"ttl": "X-aws-ec2-metadata-token-ttl-seconds",
             "token": "X-aws-ec2-metadata-token",
             "roles": "/latest/meta-data/iam/security-credentials/",
             "secret": "SecretAccessKey", "session": "Token"}


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def document(creds: Credentials, *, secret_name: str = "AccessKeySecret",
             token_name: str = "SecurityToken", lie: float = 0.0) -> dict[str, Any]:
    """The JSON a metadata service or credential process hands out; `lie` adds seconds
    to the stated expiry (keys the server drops earlier than it said)."""
    assert creds.expires_at is not None
    return {"Code": "Success", "AccessKeyId": creds.access_key_id,
            secret_name: creds.access_key_secret, token_name: creds.security_token,
            "Expiration": _stamp(creds.expires_at + timedelta(seconds=lie)),
            "LastUpdated": _stamp(datetime.now(timezone.utc))}


class FakeCloud:
    """State shared with the handler: what to hand out, what is broken, what was asked."""

    def __init__(self, issuer: StsIssuer, lifetime: float, *, flavour: str = "ecs",
                 role: str = "ossync-uploader", lie: float = 0.0,
                 fresh_share: float = 0.5) -> None:
        self.issuer = issuer
        self.lifetime = lifetime
        self.paths = ECS_PATHS if flavour == "ecs" else EC2_PATHS
        self.role = role
        self.lie = lie
        self.fresh_share = fresh_share  # role keys are replaced once less life is left
        self.down = False  # every request answers 503
        self.token_mode = "optional"  # "required": 401 without token; "absent": PUT → 404
        self.tokens: set[str] = set()
        self.requests: list[tuple[str, str, bool]] = []  # method, path, carried a token
        self._lock = threading.Lock()
        self._role_keys: Credentials | None = None
        self.sts_calls = 0

    def role_keys(self) -> Credentials:
        """Like ECS: the same keys until `fresh_share` of their life is left, then new."""
        with self._lock:
            keys = self._role_keys
            now = datetime.now(timezone.utc)
            if keys is None or keys.expires_at is None or (
                    keys.expires_at - now).total_seconds() < self.lifetime * self.fresh_share:
                keys = self._role_keys = self.issuer.issue(self.lifetime)
            return keys


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no request lines (they would carry nothing secret, but stay quiet)

    def _reply(self, status: int, body: str, content_type: str = "text/plain") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self) -> None:
        cloud = self.server.cloud
        cloud.requests.append(("PUT", self.path, False))
        if cloud.down:
            return self._reply(503, "down")
        if self.path != "/latest/api/token" or cloud.token_mode == "absent":
            return self._reply(404, "not found")
        if not self.headers.get(cloud.paths["ttl"], "").isdigit():
            return self._reply(400, "missing ttl header")
        token = secrets.token_urlsafe(24)
        cloud.tokens.add(token)
        self._reply(200, token)

    def do_GET(self) -> None:
        cloud = self.server.cloud
        token = self.headers.get(cloud.paths["token"])
        cloud.requests.append(("GET", self.path, token is not None))
        if cloud.down:
            return self._reply(503, "down")
        if self.path.startswith("/sts"):
            cloud.sts_calls += 1
            doc = document(cloud.issuer.issue(cloud.lifetime), lie=cloud.lie)
            return self._reply(200, json.dumps(doc), "application/json")
        if token is not None and token not in cloud.tokens:
            return self._reply(401, "bad metadata token")
        if token is None and cloud.token_mode == "required":
            return self._reply(401, "hardened mode: token required")
        roles = cloud.paths["roles"]
        if self.path == roles:
            return self._reply(200, cloud.role + "\n")
        if self.path == roles + cloud.role:
            doc = document(cloud.role_keys(), secret_name=cloud.paths["secret"],
                           token_name=cloud.paths["session"], lie=cloud.lie)
            return self._reply(200, json.dumps(doc), "application/json")
        self._reply(404, "not found")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, cloud: FakeCloud) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.cloud = cloud


@contextmanager
def fake_cloud(cloud: FakeCloud) -> Iterator[str]:
    """Serve `cloud` on 127.0.0.1; yields its base URL; stopped and joined on exit."""
    server = _Server(cloud)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="test-fake-cloud")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


SCRIPT = '''#!{python}
"""A credential helper as a secrets agent would ship it: asks an STS endpoint, prints
the keys as JSON on stdout, and talks too much on stderr."""
import json, sys, urllib.request
url = sys.argv[1]
try:
    with urllib.request.urlopen(url, timeout=5) as resp:
        doc = json.load(resp)
except Exception as exc:
    print(f"get-oss-creds: cannot reach the STS endpoint: {{exc}}", file=sys.stderr)
    sys.exit(3)
print(f"get-oss-creds: got {{doc['AccessKeyId']}} (secret {{doc['AccessKeySecret']}})",
      file=sys.stderr)
print(json.dumps(doc))
'''


def credential_script(folder: Path, name: str = "get-oss-creds") -> Path:
    """A real executable credential-process script (Python, run by this interpreter)."""
    path = folder / name
    path.write_text(SCRIPT.format(python=sys.executable), encoding="utf-8")
    path.chmod(0o755)
    return path
