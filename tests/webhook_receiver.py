"""A webhook receiver for tests and benchmarks: a ThreadingHTTPServer on 127.0.0.1 that
checks every delivery with the Standard Webhooks reference library
(`standardwebhooks.Webhook(secret).verify(body, headers)`: a check no one on the team
wrote), and can refuse the first attempts, answer slowly, or go down and come back on
the same port."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks import Webhook

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the spec's example secret: 24 bytes


def write_secret(folder: Path, secret: str = SECRET) -> Path:
    path = folder / "webhook_secret"
    path.write_text(secret + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


@dataclass(frozen=True)
class Attempt:
    msg_id: str
    timestamp: str
    status: int  # what the receiver answered
    verified: bool  # the reference library accepted the signature
    payload: dict[str, Any] | None  # the body as JSON, once verified
    at: float  # monotonic time it arrived


class Receiver:
    def __init__(self, secret: str = SECRET, *, fail_first: int = 0, status: int = 204,
                 delay: float = 0.0, port: int = 0) -> None:
        self.verifier = Webhook(secret)
        self.fail_first = fail_first  # answer 503 to this many attempts first
        self.status = status
        self.delay = delay  # seconds before each answer
        self.attempts: list[Attempt] = []
        self.cond = threading.Condition()
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._conns: set[socket.socket] = set()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver.took(body, {k: v for k, v in self.headers.items()})
                answer = b"" if status in (204, 304) else b"ok"  # 204 has no body
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with receiver.cond:
                    receiver._conns.add(self.connection)

            def finish(self) -> None:
                with receiver.cond:
                    receiver._conns.discard(self.connection)
                super().finish()

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="test-webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def took(self, body: bytes, headers: dict[str, str]) -> int:
        if self.delay:
            time.sleep(self.delay)
        try:
            payload = self.verifier.verify(body, headers)
            verified = True
        except Exception:
            payload, verified = None, False
        lowered = {k.lower(): v for k, v in headers.items()}
        with self.cond:
            failing = self.fail_first > 0
            self.fail_first -= failing
            status = 503 if failing or not verified else self.status
            self.attempts.append(Attempt(lowered.get("webhook-id", ""),
                                         lowered.get("webhook-timestamp", ""), status,
                                         verified, payload, time.monotonic()))
            self.cond.notify_all()
        return status

    def stop(self) -> None:
        """Down: no new connection, and the kept-alive ones cut (a sender must not go on
        talking to a stopped receiver over a connection it opened before)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self.cond:
            conns = list(self._conns)
        for conn in conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what it got ---------------------------------------------------------------

    def taken(self) -> list[Attempt]:
        """Attempts answered 2xx, in arrival order."""
        with self.cond:
            return [a for a in self.attempts if 200 <= a.status < 300]

    def taken_ids(self) -> list[int]:
        return [int(a.msg_id) for a in self.taken()]

    def wait(self, check: Callable[[Receiver], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not check(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                                         f"got {[(a.msg_id, a.status) for a in self.attempts]}")
                self.cond.wait(left)

    def wait_taken(self, count: int, timeout: float = 30.0) -> list[Attempt]:
        self.wait(lambda r: len([a for a in r.attempts if 200 <= a.status < 300]) >= count,
                  timeout, f"{count} deliveries")
        return self.taken()


def types_of(attempts: list[Attempt]) -> list[str]:
    return [str((a.payload or {}).get("type")) for a in attempts]


def dumps(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True)


class PingServer:
    """A heartbeat's other end (healthchecks.io's part): counts the GETs it is sent."""

    def __init__(self) -> None:
        self.pings: list[float] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.pings.append(time.monotonic())
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/ping/abc"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="test-ping-server", daemon=True)

    def __enter__(self) -> PingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
