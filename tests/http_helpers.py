"""Helpers for the HTTP listener's tests: a real daemon with `http:` on a free loopback
port, and /metrics scraped and parsed by prometheus_client's own parser."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
