"""A fault-injecting HTTP proxy in front of the local endpoint, for chaos and reliability tests.

Each request draws, from a seeded random generator, at most one fault:

- `error`: a 500 or 503 answer with OSS error XML, the request never reaches the store;
- `skew`: 403 `RequestTimeTooSkewed` (with the true `Date`), the request never reaches it;
- `reset`: the connection is reset while the request body is arriving;
- `stall`: nothing is answered for `stall_seconds` (past the client's read timeout);
- `lost`: the store keeps the object, then the connection drops before the answer —
  the hard case where a retry must recognise its own object;
- `badcrc`: the store keeps the object, the answer carries a wrong CRC-64 and ETag;
- `trickle`: the answer is sent a few bytes at a time.

`outage(seconds)` refuses every connection for a while. Faults only hit POST and PUT
uploads unless `all_methods` is set, so tests can still inspect the bucket through the
proxy. Deterministic for a given seed and request order. `rules` force a fault on the
next requests that match a method and a query parameter (the Complete of a multipart
upload, say); `requests` lists every request seen and `body_bytes` counts the request
bytes passed on to the store.
"""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

FAULTS = ("error", "skew", "reset", "stall", "lost", "badcrc", "trickle")
CHUNK = 64 * 1024


@dataclass
class Rule:
    """`fault` for the next `times` requests with this method whose query names `param`."""

    method: str
    param: str
    fault: str
    times: int = 1


@dataclass
class FaultPlan:
    """Per-request probabilities of each fault (their sum must be at most 1), and rules."""

    rates: Mapping[str, float] = field(default_factory=dict)
    seed: int = 0
    stall_seconds: float = 15.0
    all_methods: bool = False
    rules: list[Rule] = field(default_factory=list)

    def __post_init__(self) -> None:
        unknown = set(self.rates) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {', '.join(FAULTS)}")
        if sum(self.rates.values()) > 1:
            raise ValueError("fault rates add up to more than 1")

    @classmethod
    def parse(cls, text: str, seed: int = 0) -> FaultPlan:
        """`error=0.1,lost=0.05,stall=0.01` → a plan."""
        rates: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, value = part.partition("=")
            rates[name.strip()] = float(value)
        return cls(rates, seed)


def _error_xml(code: str, message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message><RequestId>FAULT</RequestId>"
            f"<HostId>fault-proxy</HostId></Error>").encode()


class _Handler(BaseHTTPRequestHandler):
    server: FaultProxyServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._relay()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_GET  # OPTIONS: CORS preflights

    def _relay(self) -> None:
        fault = self.server.draw(self.command, self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if fault in ("error", "skew"):
            self._drain(length)
            status, code = ((403, "RequestTimeTooSkewed") if fault == "skew"
                            else self.server.rng_choice([(500, "InternalError"),
                                                         (503, "ServiceUnavailable")]))
            self._answer(status, _error_xml(code, f"injected {fault}"))
            return
        if fault == "reset":
            self._drain(self.server.rng_int(0, max(length // 2, 1)))
            self._reset()
            return
        if fault == "stall":
            self._drain(length)
            time.sleep(self.server.plan.stall_seconds)
            self.close_connection = True
            return
        status, headers, body = self._forward(length)
        if fault == "lost":
            self._reset()
            return
        if fault == "badcrc" and status < 300:
            headers = [(k, v) for k, v in headers
                       if k.lower() not in ("x-oss-hash-crc64ecma", "etag")]
            headers += [("x-oss-hash-crc64ecma", "12345"), ("ETag", '"0BADC0DE"')]
        self._answer(status, body, headers, trickle=fault == "trickle")

    def _drain(self, length: int) -> None:
        while length > 0:
            chunk = self.rfile.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)

    def _forward(self, length: int) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port,
                                          timeout=120)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in ("connection", "keep-alive", "transfer-encoding"):
                    conn.putheader(name, value)
            conn.endheaders()
            left = length
            while left > 0:
                chunk = self.rfile.read(min(CHUNK, left))
                if not chunk:
                    break
                conn.send(chunk)
                left -= len(chunk)
                self.server.count_body(len(chunk))
            resp = conn.getresponse()
            body = resp.read()
            dropped = {"connection", "keep-alive", "transfer-encoding"}
            if self.command != "HEAD":
                dropped.add("content-length")
            headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in dropped]
            return resp.status, headers, body
        finally:
            conn.close()

    def _answer(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None,
                trickle: bool = False) -> None:
        self.send_response(status)
        for name, value in headers or [("Content-Type", "application/xml")]:
            self.send_header(name, value)
        if self.command != "HEAD":  # a HEAD answer keeps the upstream's Content-Length
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if not trickle:
            self.wfile.write(body)
            return
        for start in range(0, len(body), 16):
            self.wfile.write(body[start:start + 16])
            self.wfile.flush()
            time.sleep(0.01)

    def _reset(self) -> None:
        """Close with RST (SO_LINGER 0), as a dropped network path looks to the client."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()


class FaultProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], upstream: str, plan: FaultPlan) -> None:
        super().__init__(address, _Handler)
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.plan = plan
        self.counts: Counter[str] = Counter()
        self.requests: list[tuple[str, str]] = []  # (method, path with query)
        self.body_bytes = 0
        self._open: set[Any] = set()
        self._rng = random.Random(plan.seed)
        self._lock = threading.Lock()
        self._down_until = 0.0

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every kept-alive client connection, so no handler thread waits on one."""
        with self._lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def count_body(self, n: int) -> None:
        with self._lock:
            self.body_bytes += n

    def draw(self, method: str, path: str = "") -> str | None:
        with self._lock:
            self.requests.append((method, path))
            params = {p.partition("=")[0] for p in urlsplit(path).query.split("&")}
            for rule in self.plan.rules:
                if rule.times > 0 and rule.method == method and rule.param in params:
                    rule.times -= 1
                    self.counts[rule.fault] += 1
                    return rule.fault
            roll = self._rng.random()
            if method not in ("POST", "PUT") and not self.plan.all_methods:
                return None
            for name in FAULTS:
                roll -= self.plan.rates.get(name, 0.0)
                if roll < 0:
                    self.counts[name] += 1
                    return name
            self.counts["none"] += 1
            return None

    def rng_choice(self, options: list[tuple[int, str]]) -> tuple[int, str]:
        with self._lock:
            return self._rng.choice(options)

    def rng_int(self, low: int, high: int) -> int:
        with self._lock:
            return self._rng.randint(low, high)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up on a faulty answer is the point, not an error to print."""

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if time.monotonic() < self._down_until:
            self.counts["refused"] += 1
            return False  # closed at once: the client sees a reset
        return True

    def outage(self, seconds: float) -> None:
        with self._lock:
            self._down_until = time.monotonic() + seconds


class FaultProxy:
    """Start/stop wrapper, like LocalOSS: `with FaultProxy(upstream, plan) as proxy: ...`."""

    def __init__(self, upstream: str, plan: FaultPlan, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.server = FaultProxyServer((host, port), upstream, plan)
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, name="fault-proxy",
                                        daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def counts(self) -> Counter[str]:
        return self.server.counts

    def outage(self, seconds: float) -> None:
        self.server.outage(seconds)

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()
        self._thread.join(10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
