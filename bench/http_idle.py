"""What the HTTP listener costs: CPU and memory of an idle daemon without `http:`, with it
(no requests), and with it scraped every 15 s as Prometheus would; then requests per
second of `/metrics` and of `/v1/files?path=` from a few keep-alive clients.

    python bench/http_idle.py [--seconds 60] [--files 200] [--load 10] [--clients 4]

The daemons are real `ossync run` subprocesses (bench/common.py's DaemonProc) on the same
ledger and folder, after a first run uploaded `--files` photos to the local endpoint.
Everything listens on 127.0.0.1; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).parent))
from common import (
    BUCKET,
    CREDS,
    DaemonProc,
    jpeg,
    keep_alive_load,
    uploaded_count,
    wait_until,
)

from ossync.localoss import LocalOSS

WARM_UP = 3.0  # seconds after "watching" before the CPU clock is read
SCRAPE_EVERY = 15.0


def _config(work: Path, endpoint: str, drop: Path, http: bool) -> Path:
    import yaml

    doc: dict[str, Any] = {
        "oss": {"endpoint": endpoint, "region": "cn-hangzhou", "bucket": BUCKET},
        "ledger": str(work / "ledger.db"), "date_source": "mtime", "settle_seconds": 0.2,
        "watch": [{"path": str(drop), "label": "drop"}]}
    if http:  # no rate limit: the load test below is one client address
        doc["http"] = {"listen": "127.0.0.1:0", "rate_limit": 0, "require_token": "never"}
    path = work / ("http.yaml" if http else "plain.yaml")
    path.write_text(yaml.safe_dump(doc))
    return path


def _base(log: Path) -> str:
    found = re.search(r"HTTP listener on (http://\S+) ", log.read_text(errors="replace"))
    if not found:
        raise RuntimeError(f"no listener line in {log}")
    return found.group(1)


def idle(config: Path, log: Path, seconds: float, scrape: bool) -> dict[str, float]:
    """CPU % and RSS of a daemon doing nothing (but answering a scrape, if asked)."""
    daemon = DaemonProc(config, log)
    try:
        time.sleep(WARM_UP)
        base = _base(log) if scrape else None
        before, start = daemon.cpu_seconds(), time.monotonic()
        scrapes = 0
        while (left := start + seconds - time.monotonic()) > 0:
            if base is not None and time.monotonic() >= start + scrapes * SCRAPE_EVERY:
                requests.get(base + "/metrics", timeout=10).raise_for_status()
                scrapes += 1
            time.sleep(min(left, 0.5))
        used = daemon.cpu_seconds() - before
        return {"cpu_percent": used / seconds * 100, "rss_mb": daemon.rss_mb(),
                "scrapes": scrapes}
    finally:
        daemon.stop()


def load(url: str, seconds: float, clients: int) -> dict[str, float]:
    """Requests per second and latency of GET `url` from `clients` keep-alive threads."""
    return keep_alive_load(lambda session: session.get(url, timeout=10), seconds, clients)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="idle window per daemon")
    parser.add_argument("--files", type=int, default=200, help="photos in the ledger")
    parser.add_argument("--load", type=float, default=10.0, help="seconds per load test")
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ossync-bench-http-") as tmp:
        work = Path(tmp)
        drop = work / "drop"
        drop.mkdir()
        with LocalOSS(work / "oss", [BUCKET], CREDS) as server:
            plain = _config(work, server.endpoint, drop, http=False)
            http = _config(work, server.endpoint, drop, http=True)
            seed = DaemonProc(http, work / "seed.log")
            for i in range(args.files):
                (drop / f"IMG_{i:05d}.jpg").write_bytes(jpeg(20_000, i))
            wait_until(lambda: uploaded_count(work / "ledger.db") == args.files, 300, 0.2)
            seed.stop()
            rows = {
                "without http:": idle(plain, work / "plain.log", args.seconds, False),
                "with http:, idle": idle(http, work / "idle.log", args.seconds, False),
                f"with http:, scraped every {SCRAPE_EVERY:.0f}s":
                    idle(http, work / "scraped.log", args.seconds, True),
            }
            daemon = DaemonProc(http, work / "load.log")
            try:
                time.sleep(WARM_UP)
                base = _base(work / "load.log")
                path = drop / f"IMG_{args.files // 2:05d}.jpg"
                rates = {
                    "/metrics": load(base + "/metrics", args.load, args.clients),
                    "/v1/files?path=": load(f"{base}/v1/files?path={path}&signed=true",
                                            args.load, args.clients),
                }
            finally:
                daemon.stop()
    print(f"idle daemon over {args.seconds:.0f}s, {args.files} files in the ledger, "
          "1 watched folder, 4 workers")
    print(f"  {'':40} {'CPU %':>8} {'RSS MB':>8}")
    for name, row in rows.items():
        print(f"  {name:40} {row['cpu_percent']:8.3f} {row['rss_mb']:8.1f}")
    print(f"requests, {args.clients} keep-alive clients for {args.load:.0f}s each")
    print(f"  {'':40} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name, rate in rates.items():
        print(f"  {name:40} {rate['per_second']:8.0f} {rate['p50_ms']:8.2f} "
              f"{rate['p99_ms']:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
