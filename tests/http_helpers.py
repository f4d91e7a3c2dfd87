"""Helpers for the HTTP listener's tests: a real daemon with `http:` on a free loopback
port, /metrics scraped and parsed by prometheus_client's own parser, and slow clients
on raw sockets (also used by bench/http_slow_clients.py)."""

from __future__ import annotations

import os
import re
import select
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from ossync.config import load_config
from ossync.service.daemon import Daemon
from tests.daemon_helpers import daemon_thread

TOKEN = "9f3c27e1b84d6a05c2e7f19b3d8a64c0e5b27f9d1a3c8e46"  # 192 bits, random


@dataclass
class Running:
    daemon: Daemon
    base: str  # http://127.0.0.1:PORT
    config: Path

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return requests.get(self.base + path, headers=headers, timeout=10,
                            allow_redirects=False, **kwargs)


@contextmanager
def http_daemon(make_config: Callable[..., Path], http: dict[str, Any] | None = None,
                **top: Any) -> Iterator[Running]:
    """The real daemon (in a thread) with its listener on 127.0.0.1, port chosen by the OS.
    Without a token the listener is open to this host's users (`require_token: never`)
    unless `http` says otherwise: the tests must not depend on who else has an account."""
    http = {"listen": "127.0.0.1:0", **(http or {})}
    if "token_file" not in http:
        http.setdefault("require_token", "never")
    path = make_config(http=http, **top)
    with daemon_thread(load_config(path)) as daemon:
        assert daemon.http is not None
        yield Running(daemon, f"http://127.0.0.1:{daemon.http.port}", path)


def listening_at(log: Path) -> str:
    """The listener's base URL, from the line a daemon subprocess logged at start."""
    found = re.search(r"HTTP listener on (http://[^ ]+) ", log.read_text(errors="replace"))
    assert found, log.read_text(errors="replace")
    return found.group(1)


def write_token(folder: Path, token: str = TOKEN) -> Path:
    path = folder / "http_token"
    path.write_text(token + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_metrics(text: str) -> tuple[Samples, set[str]]:
    """(every sample by name and labels, the family names) as Prometheus would read them."""
    samples: Samples = {}
    families = set()
    for family in text_string_to_metric_families(text):
        families.add(family.name)
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, families


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def non_loopback_address() -> str | None:
    """An address of this host other than loopback (where the default route leaves), or
    None: a client from there is a client the per-client limits count."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent for a UDP connect
        address = str(probe.getsockname()[0])
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def is_open(sock: socket.socket) -> bool:
    """The server has neither closed the connection nor answered on it (nothing to read)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return not poller.poll(0)


# What a slow client sends, one byte at a time: nothing, a request line, headers.
SLOW_SCRIPTS = (b"", b"GET /healthz HTTP/1.1\r\n" + b"X-Slow: " + b"z" * 4000,
                b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + b"s" * 4000)


class SlowClients:
    """`count` connections to `address` that never finish a request: a third send
    nothing, a third a request line byte by byte, a third headers byte by byte (one
    byte each every `every` seconds, from a thread of its own). With `reopen`, each one
    the server closes is opened again at the next round, as a determined attacker would."""

    def __init__(self, address: tuple[str, int], count: int, every: float = 0.5,
                 reopen: bool = False) -> None:
        self.address, self.count, self.every, self.reopen = address, count, every, reopen
        self.socks: list[socket.socket | None] = [None] * count
        self.sent = [0] * count
        self.opened = 0
        self.rounds = 0  # times every connection got its next byte
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-slow-clients")

    def _open(self, i: int) -> None:
        sock = socket.create_connection(self.address, timeout=5)
        sock.setblocking(False)
        self.socks[i], self.sent[i] = sock, 0
        self.opened += 1

    def __enter__(self) -> SlowClients:
        for i in range(self.count):
            self._open(i)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            for i, sock in enumerate(self.socks):
                self._trickle(i, sock)
            self.rounds += 1

    def _trickle(self, i: int, sock: socket.socket | None) -> None:
        script = SLOW_SCRIPTS[i % len(SLOW_SCRIPTS)]
        if sock is not None and is_open(sock):
            if self.sent[i] < len(script):
                with suppress(OSError):
                    self.sent[i] += sock.send(script[self.sent[i]:self.sent[i] + 1])
            return
        if sock is not None:
            sock.close()
            self.socks[i] = None
        if self.reopen and not self._stop.is_set():
            with suppress(OSError):
                self._open(i)

    def open_now(self) -> int:
        return sum(1 for sock in list(self.socks) if sock is not None and is_open(sock))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for sock in self.socks:
            if sock is not None:
                sock.close()


def timed_get(url: str, timeout: float) -> tuple[float, int]:
    """(seconds, status) of one GET on a connection of its own."""
    began = time.perf_counter()
    answer = requests.get(url, timeout=timeout, headers={"Connection": "close"})
    return time.perf_counter() - began, answer.status_code


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _missing(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (CI must run the browser test: .ci/run installs chromium)")
    pytest.skip(why)


@contextmanager
def headless_chromium() -> Iterator[Any]:
    """The system's Chromium through Playwright; a skip where either is missing (a failure
    under CI=true)."""
    if not os.path.exists(CHROMIUM):
        _missing("chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
