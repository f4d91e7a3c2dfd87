"""The WAN link emulator (tests/link.py) against real servers on 127.0.0.1.

Timing checks are lower bounds (a loaded machine only makes things slower) with small
slack for clock granularity; every socket has a timeout and every test a time limit.
"""

from __future__ import annotations

import hashlib
import random
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.link import Link

pytestmark = pytest.mark.timeout(60)

IO_TIMEOUT = 20.0
SLACK = 0.005  # clock and timer granularity
Handler = Callable[[socket.socket], None]


def echo(conn: socket.socket) -> None:
    """Send back everything, then shut down writing once the client did."""
    while data := conn.recv(65536):
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)


def sink(conn: socket.socket) -> None:
    """Read to EOF, then answer b"<bytes> <sha256>" (so the answer needs a half-close)."""
    digest, count = hashlib.sha256(), 0
    while data := conn.recv(65536):
        digest.update(data)
        count += len(data)
    conn.sendall(f"{count} {digest.hexdigest()}".encode())


class _TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    block_on_close = True  # server_close() joins the handler threads


@contextmanager
def tcp_server(handle: Handler) -> Iterator[tuple[str, int]]:
    """A real threaded TCP server on 127.0.0.1; stopped and joined at the end."""

    class Request(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.settimeout(IO_TIMEOUT)
            with suppress(OSError):  # the link closed or reset us: the client's side is checked
                handle(self.request)

    server = _TCPServer(("127.0.0.1", 0), Request)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="test-server")
    thread.start()
    try:
        yield address(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def address(server: socketserver.TCPServer) -> tuple[str, int]:
    host, port = server.socket.getsockname()[:2]
    return str(host), int(port)


def connect(link: Link) -> socket.socket:
    return socket.create_connection(link.address, timeout=IO_TIMEOUT)


def read_all(sock: socket.socket) -> bytes:
    parts = []
    while data := sock.recv(65536):
        parts.append(data)
    return b"".join(parts)


def send_to_sink(link: Link, payload: bytes) -> bytes:
    with connect(link) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        return read_all(sock)


def expected(payload: bytes) -> bytes:
    return f"{len(payload)} {hashlib.sha256(payload).hexdigest()}".encode()


def timed(work: Callable[[], object]) -> float:
    began = time.monotonic()
    work()
    return time.monotonic() - began


def test_bytes_arrive_intact_both_ways() -> None:
    payloads = [random.Random(i).randbytes(3_000_000 + i) for i in range(4)]

    def round_trip(link: Link, payload: bytes) -> bytes:
        with connect(link) as sock, ThreadPoolExecutor(1) as pool:
            def send() -> None:
                sock.sendall(payload)
                sock.shutdown(socket.SHUT_WR)
            sent = pool.submit(send)
            back = read_all(sock)
            sent.result(IO_TIMEOUT)
            return back

    with tcp_server(echo) as upstream, Link(upstream, rtt=0.02, rate_up=40e6, rate_down=40e6,
                                            stall_probability=0.02, stall=0.05) as link:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda p: round_trip(link, p), payloads))
        assert [hashlib.sha256(a).digest() for a in answers] == [
            hashlib.sha256(p).digest() for p in payloads]
        total = sum(map(len, payloads))
        assert (link.bytes_up, link.bytes_down, link.connections) == (total, total, 4)


def test_round_trip_takes_at_least_rtt_and_a_new_connection_one_more() -> None:
    rtt = 0.1
    with tcp_server(echo) as upstream, Link(upstream, rtt=rtt) as link, connect(link) as sock:
        def ping() -> None:
            sock.sendall(b"x")
            assert sock.recv(1) == b"x"

        first = timed(ping)  # waits for the emulated handshake too
        again = [timed(ping) for _ in range(3)]
    assert first >= 2 * rtt - SLACK
    assert min(again) >= rtt - SLACK


def test_rate_bounds_one_stream_and_counters_match() -> None:
    rate, payload = 2e6, random.Random(1).randbytes(2_000_000)
    with tcp_server(sink) as upstream, Link(upstream, rtt=0.02, rate_up=rate) as link:
        answer: list[bytes] = []
        elapsed = timed(lambda: answer.append(send_to_sink(link, payload)))
        assert answer == [expected(payload)]
        assert link.bytes_up == len(payload)
        assert link.bytes_down == len(expected(payload))
    assert elapsed >= len(payload) / rate - SLACK


def test_parallel_streams_share_one_bottleneck() -> None:
    rate, payload = 2e6, random.Random(2).randbytes(1_000_000)
    with tcp_server(sink) as upstream, Link(upstream, rtt=0.02, rate_up=rate) as link:
        with ThreadPoolExecutor(2) as pool:
            began = time.monotonic()
            answers = list(pool.map(lambda _: send_to_sink(link, payload), range(2)))
            elapsed = time.monotonic() - began
        assert answers == [expected(payload)] * 2
        assert link.bytes_up == 2 * len(payload)
    assert elapsed >= 2 * len(payload) / rate - SLACK


def test_set_rate_takes_effect_at_once() -> None:
    payload = random.Random(3).randbytes(500_000)
    with tcp_server(sink) as upstream, Link(upstream, rtt=0.01, rate_up=None) as link:
        fast = timed(lambda: send_to_sink(link, payload))
        link.set_rate(1e6, None)
        slow = timed(lambda: send_to_sink(link, payload))
    assert slow >= len(payload) / 1e6 - SLACK
    assert fast < slow


def test_half_close_lets_the_client_read_the_answer() -> None:
    payload = b"request body" * 1000
    with tcp_server(sink) as upstream, Link(upstream, rtt=0.02) as link, connect(link) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)  # the sink answers only after this EOF arrives
        assert read_all(sock) == expected(payload)  # and its EOF arrives too


def test_refused_upstream_closes_the_client_cleanly() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Link(("127.0.0.1", port), rtt=0.02) as link, connect(link) as sock:
        assert sock.recv(100) == b""  # EOF, not a reset
        assert link.connections == 1
        deadline = time.monotonic() + 5
        while link.open_connections and time.monotonic() < deadline:
            time.sleep(0.01)
        assert link.open_connections == 0  # nothing kept for the dead connection


def reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer gets a TCP reset, not a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_a_reset_upstream_closes_the_client() -> None:
    def read_then_reset(conn: socket.socket) -> None:
        conn.recv(5)
        reset(conn)

    with tcp_server(read_then_reset) as upstream, Link(upstream, rtt=0.02) as link, \
            connect(link) as sock:
        sock.sendall(b"hello")
        with suppress(ConnectionResetError):
            assert sock.recv(100) == b""


def test_a_reset_client_closes_the_upstream_connection() -> None:
    ended = threading.Event()

    def wait_for_end(conn: socket.socket) -> None:
        try:
            while conn.recv(65536):
                pass
        finally:
            ended.set()

    with tcp_server(wait_for_end) as upstream, Link(upstream, rtt=0.02) as link:
        sock = connect(link)
        sock.sendall(b"hello")
        time.sleep(0.1)  # past the handshake: the upstream connection is up
        reset(sock)
        assert ended.wait(10)


def test_stalls_slow_a_transfer_down() -> None:
    rate, payload = 4e6, random.Random(4).randbytes(1_000_000)  # >= 62 chunks of <= 16 kB
    with tcp_server(sink) as upstream, Link(upstream, rtt=0.02, rate_up=rate,
                                            stall_probability=0.3, stall=0.1, seed=7) as link:
        answer: list[bytes] = []
        elapsed = timed(lambda: answer.append(send_to_sink(link, payload)))
    assert answer == [expected(payload)]
    # ~19 stalls of 0.1 s expected; fewer than 5 is vanishingly unlikely.
    assert elapsed >= len(payload) / rate + 0.5


def test_backpressure_holds_the_sender_back() -> None:
    """The link reads no faster than its rate: the sender's socket fills up."""
    rate = 1e6
    with tcp_server(sink) as upstream, Link(upstream, rtt=0.04, rate_up=rate) as link, \
            socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        sock.settimeout(IO_TIMEOUT)
        sock.connect(link.address)
        sock.setblocking(False)
        block, accepted = b"\0" * 65536, 0
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                accepted += sock.send(block)
            except BlockingIOError:
                time.sleep(0.005)
        # 1 s at 1 MB/s, plus the socket buffers, the queue and the delay line: ~2 MB at most.
        assert accepted < 3_000_000
        assert link.bytes_up <= rate * 1.0 + 100_000


def test_memory_stays_flat_for_a_large_transfer() -> None:
    size, block = 256 * 2**20, random.Random(5).randbytes(2**20)
    with tcp_server(sink) as upstream, Link(upstream, rtt=0.01, rate_up=None) as link, \
            connect(link) as sock:
        before = peak = _rss()
        for i in range(size // len(block)):
            sock.sendall(block)
            if i % 16 == 0:
                peak = max(peak, _rss())
        sock.shutdown(socket.SHUT_WR)
        assert read_all(sock).startswith(f"{size} ".encode())
        assert link.bytes_up == size
    assert peak - before < 48 * 2**20


def test_stop_ends_open_connections_and_joins() -> None:
    with tcp_server(echo) as upstream:
        link = Link(upstream, rtt=0.02).start()
        socks = [connect(link) for _ in range(3)]
        for sock in socks:
            sock.sendall(b"hello")
        for sock in socks:
            assert sock.recv(5) == b"hello"
        socks[0].sendall(b"in flight")
        assert timed(link.stop) < 5
        assert not any(t.name == "wan-link" for t in threading.enumerate())
        for sock in socks:
            with suppress(ConnectionResetError):  # an abort may reach the client as a reset
                assert sock.recv(100) in (b"", b"in flight")
            sock.close()
        link.stop()  # idempotent


def test_plain_http_through_the_link() -> None:
    body = random.Random(6).randbytes(1_000_000)

    class Sink(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive

        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers["Content-Length"]))
            answer = hashlib.sha256(data).hexdigest().encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="test-http")
    thread.start()
    try:
        with Link(address(server), rtt=0.02) as link, requests.Session() as session:
            for _ in range(2):  # the second request reuses the kept-alive connection
                resp = session.post(link.endpoint + "/", data=body, timeout=IO_TIMEOUT)
                assert resp.text == hashlib.sha256(body).hexdigest()
            assert link.connections == 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0
