"""Helpers for daemon tests: run the real daemon (thread or subprocess), write files like
real writers do, and read back what the ledger and the bucket hold."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from ossync.config import Config, load_config
from ossync.ledger import Ledger, LedgerError, Upload
from ossync.service.daemon import Daemon

_T = TypeVar("_T")


def jpeg_bytes(size: int = 20_000, seed: int | None = None) -> bytes:
    """A JPEG-shaped payload: SOI + APP0 header, random body, EOI."""
    body = os.urandom(size) if seed is None else (bytes([seed % 251]) * size)
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + body + (
        b"\xff\xd9")


def wait_for(check: Callable[[], _T], timeout: float, what: str, step: float = 0.1,
             detail: Callable[[], str] = lambda: "") -> _T:
    """Poll `check` until it returns something truthy; bounded in time. `detail` adds
    context (a log, a journal) to the failure message."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = detail()
            raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                                 + (f"\n{extra}" if extra else ""))
        time.sleep(step)


def _exists(location: Path | str) -> bool:
    """A SQLite ledger is there once its file is; a PostgreSQL one always answers."""
    return "://" in str(location) or Path(location).exists()


def uploads(ledger_path: Path | str) -> list[Upload]:
    if not _exists(ledger_path):
        return []
    with Ledger.open(ledger_path, readonly=True) as ledger:
        return list(ledger.iter_uploads())


def file_states(ledger_path: Path | str) -> dict[str, tuple[str, str | None]]:
    """path → (state, last_error)."""
    if not _exists(ledger_path):
        return {}
    try:
        with Ledger.open(ledger_path, readonly=True) as ledger:
            return {r.path: (r.state, r.last_error) for r in ledger.iter_files()}
    except LedgerError as exc:  # a PostgreSQL ledger before its daemon made the tables
        if "no ossync tables" in str(exc):
            return {}
        raise


def uploaded_paths(ledger_path: Path | str) -> set[str]:
    return {p for p, (state, _) in file_states(ledger_path).items() if state == "uploaded"}


@contextmanager
def daemon_thread(config: Config) -> Iterator[Daemon]:
    """The real daemon in a thread of this process; stopped and joined on exit."""
    daemon = Daemon(config)
    ready = threading.Event()
    daemon.on_ready = ready.set
    errors: list[BaseException] = []

    def run() -> None:
        try:
            daemon.run()
        except BaseException as exc:  # surfaced to the test below
            errors.append(exc)
            ready.set()

    thread = threading.Thread(target=run, name="test-daemon")
    thread.start()
    try:
        assert ready.wait(30), "daemon did not become ready"
        if errors:
            raise errors[0]
        yield daemon
    finally:
        daemon.stop_event.set()
        thread.join(60)
        assert not thread.is_alive(), "daemon thread did not stop"


def config_for(path: Path, env: dict[str, str] | None = None) -> Config:
    return load_config(path, env=env)


class DaemonProcess:
    """`ossync run` as a real subprocess, its log captured to a file."""

    def __init__(self, config_path: Path, log_path: Path, env: dict[str, str],
                 wrapper: list[str] | None = None) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [*(wrapper or []), sys.executable, "-m", "ossync", "run", "-c", str(config_path)],
            stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self, timeout: float = 30) -> None:
        wait_for(lambda: b"watching" in self.log_path.read_bytes() or self.proc.poll() is not None,
                 timeout, "daemon start")
        assert self.proc.poll() is None, self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return int(self.proc.returncode)


def bucket(server: Any, name: str = "test-bucket") -> dict[str, bytes]:
    """Every object in a LocalOSS bucket, read back from the endpoint's own store."""
    store = server.app.buckets[name]
    contents = {}
    for meta in store.snapshot():
        opened = store.open(meta.key)
        assert opened is not None
        with opened[1] as fh:
            contents[meta.key] = fh.read()
    return contents
