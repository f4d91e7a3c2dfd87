"""A few slow clients cannot take the listener: /healthz answers within a second while
100 connections that never finish a request are open — from 127.0.0.1, the health
checker's own address, too; each connection must send a whole request within
`http.request_timeout`; one client's connections are capped (its oldest waiting one
makes room, so a monitor always gets in); and connections count against the rate limit.

The slow clients are raw sockets (tests/http_helpers.py SlowClients) against the real
daemon; every wait is bounded, and nothing sleeps to prove that something did not happen.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ossync.config import load_config
from tests.daemon_helpers import daemon_thread, wait_for
from tests.http_helpers import (
    SlowClients,
    http_daemon,
    is_open,
    non_loopback_address,
    timed_get,
    write_token,
)

pytestmark = pytest.mark.timeout(180)
SLOW = 100
BOUND = 1.0  # seconds: the requirement
PROBES = 5


def _probe(base: str) -> list[float]:
    """/healthz, PROBES times, each on a new connection; every one within BOUND."""
    took = []
    for _ in range(PROBES):
        seconds, status = timed_get(base + "/healthz", timeout=BOUND)
        assert status == 200
        took.append(seconds)
    return took


def _address(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def test_healthz_answers_while_100_slow_connections_are_open(
        make_config: Callable[..., Path]) -> None:
    """A cap high enough that all 100 stay open: what once locked everyone out (64
    connections, no deadline) is now just 100 sockets the I/O loop is not waiting for."""
    http = {"client_connections": 128, "request_timeout": "2m"}
    with http_daemon(make_config, http) as run, \
            SlowClients(_address(run.base), SLOW) as slow:
        wait_for(lambda: slow.rounds >= 3, 20, "three rounds of slow bytes")
        took = _probe(run.base)
        assert slow.open_now() == SLOW  # they were all there the whole time
    assert max(took) < BOUND, took


def test_a_flood_from_the_monitors_own_address_does_not_lock_it_out(
        make_config: Callable[..., Path]) -> None:
    """The default cap (16 for all of loopback): a client that keeps reopening 100 slow
    connections holds 16, and the health checker's new connection pushes out the oldest."""
    with http_daemon(make_config) as run, \
            SlowClients(_address(run.base), SLOW, every=0.2, reopen=True) as slow:
        wait_for(lambda: slow.rounds >= 3, 20, "three rounds of the flood")
        took = _probe(run.base)
        wait_for(lambda: slow.open_now() <= 16, 10, "the cap to hold")
        assert slow.opened > SLOW  # what the cap closed was opened again
    assert max(took) < BOUND, took


def test_a_request_must_arrive_within_the_deadline(make_config: Callable[..., Path]) -> None:
    with http_daemon(make_config, {"request_timeout": "1s"}) as run, \
            SlowClients(_address(run.base), 3, every=0.2) as slow:
        started = time.monotonic()
        wait_for(lambda: slow.open_now() == 0, 10, "slow connections closed")
        assert time.monotonic() - started < 5
        assert slow.sent[1] > 2 and slow.sent[2] > 2  # they were sending all along
        with socket.create_connection(_address(run.base), timeout=5) as keep:
            for _ in range(8):  # 3 s on one connection: the clock restarts at each answer
                keep.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                assert _answer(keep).startswith(b"HTTP/1.1 200 ")
                time.sleep(0.4)
            wait_for(lambda: not is_open(keep), 10, "the idle connection closed")


def _answer(sock: socket.socket) -> bytes:
    """One whole answer of /healthz (`ok\\n`, Content-Length 3)."""
    data = b""
    deadline = time.monotonic() + 5
    while not data.endswith(b"\r\n\r\nok\n") and time.monotonic() < deadline:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@contextmanager
def _remote(make_config: Callable[..., Path], tmp_path: Path,
            **http: Any) -> Iterator[tuple[str, int]]:
    """The listener on every address, reached through this host's non-loopback one, so
    the per-client limits see a client that is not loopback."""
    address = non_loopback_address()
    if address is None:
        pytest.skip("this host has no address but loopback")
    config = make_config(http={"listen": "0.0.0.0:0", "token_file": str(write_token(tmp_path)),
                               **http})
    with daemon_thread(load_config(config)) as daemon:
        assert daemon.http is not None
        yield address, daemon.http.port


def test_connections_count_against_the_rate_limit(make_config: Callable[..., Path],
                                                  tmp_path: Path) -> None:
    with _remote(make_config, tmp_path, rate_limit=0.01, rate_burst=3) as address:
        held = [socket.create_connection(address, timeout=5) for _ in range(3)]
        try:
            with socket.create_connection(address, timeout=5) as fourth:
                answer = fourth.recv(4096)
            assert answer.startswith(b"HTTP/1.1 429 ") and b"Retry-After: " in answer
            assert all(is_open(sock) for sock in held)
        finally:
            for sock in held:
                sock.close()


def test_one_client_holds_at_most_its_share(make_config: Callable[..., Path],
                                            tmp_path: Path) -> None:
    with _remote(make_config, tmp_path, client_connections=2, rate_limit=0) as address:
        first = socket.create_connection(address, timeout=5)
        second = socket.create_connection(address, timeout=5)
        try:
            wait_for(lambda: is_open(first) and is_open(second), 5, "two connections")
            with socket.create_connection(address, timeout=5) as third:
                wait_for(lambda: not is_open(first), 5, "the oldest waiting one closed")
                assert is_open(second) and is_open(third)
                third.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert _answer(third).startswith(b"HTTP/1.1 200 ")
        finally:
            first.close()
            second.close()
