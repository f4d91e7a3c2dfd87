"""Shared parts of the benchmarks: a local endpoint, a daemon subprocess, synthetic images,
and process CPU/RSS readings from /proc. Everything listens on 127.0.0.1 only."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import yaml

from ossync.core.credentials import Credentials
from ossync.ledger import Ledger

BUCKET = "bench-bucket"
CREDS = Credentials("LTAI5tBenchKey00001", "bench-secret-value-0123456789")
ENV = {**os.environ, "OSS_ACCESS_KEY_ID": CREDS.access_key_id,
       "OSS_ACCESS_KEY_SECRET": CREDS.access_key_secret}
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def jpeg(size: int, seed: int) -> bytes:
    """A valid JPEG header, random-looking payload, end marker: ~`size` bytes."""
    body = os.urandom(max(size - 24, 0)) if seed < 0 else (
        seed.to_bytes(8, "big") + os.urandom(max(size - 32, 0)))
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + body + (
        b"\xff\xd9")


def camera_jpeg(size: int, seed: int, taken: str = "2024:05:06 07:08:09") -> bytes:
    """Like `jpeg`, with the APP1 EXIF segment a camera writes first (DateTimeOriginal),
    so `date_source: exif` finds a date, as it does in a camera's files."""
    text = taken.encode() + b"\x00"  # 20 bytes: ASCII, stored at offset 44
    tiff = (b"II*\x00" + struct.pack("<I", 8)
            + struct.pack("<HHHII", 1, 0x8769, 4, 1, 26) + struct.pack("<I", 0)
            + struct.pack("<HHHII", 1, 0x9003, 2, len(text), 44) + struct.pack("<I", 0)
            + text)
    app1 = b"Exif\x00\x00" + tiff
    body = jpeg(size - len(app1) - 4, seed)
    return body[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + body[2:]


def write_config(path: Path, endpoint: str, watch: list[dict[str, Any]], **top: Any) -> Path:
    doc = {"oss": {"endpoint": endpoint, "region": "cn-hangzhou", "bucket": BUCKET},
           "ledger": str(path.parent / "ledger.db"), "date_source": "mtime", "watch": watch}
    doc.update(top)
    path.write_text(yaml.safe_dump(doc))
    return path


class DaemonProc:
    """`ossync run` in a subprocess; `ready_at` is when it logged that it is watching."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        self.started = time.monotonic()
        self._out = log.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "ossync", "run", "-c", str(config)],
                                     stdout=self._out, stderr=subprocess.STDOUT, env=ENV)
        self.ready_at = wait_until(lambda: b"watching" in log.read_bytes(), 120, 0.005)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def rss_mb(self) -> float:
        return int(Path(f"/proc/{self.proc.pid}/statm").read_text().split()[1]) * PAGE / 1e6

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1000
        return 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._out.close()


def wait_until(check: Callable[[], Any], timeout: float, step: float = 0.05) -> float:
    """Poll until `check()` is truthy; returns the monotonic time it became so."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout}s")
        time.sleep(step)
    return time.monotonic()


def uploaded_count(ledger: Path) -> int:
    if not ledger.exists():
        return 0
    with Ledger.open(ledger, readonly=True) as led:
        return int(led.query("SELECT COUNT(*) FROM files WHERE state = 'uploaded'")[0][0])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)]


def keep_alive_load(send: Callable[[requests.Session], requests.Response], seconds: float,
                    clients: int) -> dict[str, float]:
    """Requests a second and latency of `send` from `clients` threads, each on a
    keep-alive session of its own, for `seconds`; any answer but a 2xx stops the bench."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        mine = []
        with requests.Session() as session:
            while time.monotonic() < deadline:
                began = time.perf_counter()
                send(session).raise_for_status()
                mine.append(time.perf_counter() - began)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, name=f"bench-client-{i}")
               for i in range(clients)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.monotonic() - start
    return {"requests": len(latencies), "per_second": len(latencies) / took,
            "p50_ms": percentile(latencies, 0.5) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000}
