"""/healthz latency while slow clients hold connections open: a real `ossync run` with its
listener on 127.0.0.1, N connections from 127.0.0.1 that never finish a request (a third
send nothing, a third a request line byte by byte, a third headers byte by byte), and
/healthz asked `--probes` times, each on a new connection, as a load balancer would.

    python bench/http_slow_clients.py [--slow 100] [--probes 50] [--every 0.5]

Three runs: no slow clients; N slow clients under a cap that lets all of them stay open
(`client_connections: 256`, `request_timeout: 5m`), which is the raw cost of N stalled
sockets; and N slow clients that reopen whatever the server closes, under the default
caps (16 connections for all of loopback, 10 s per request). Every loop is bounded.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from common import BUCKET, CREDS, DaemonProc, percentile, write_config

from ossync.localoss import LocalOSS
from tests.http_helpers import SlowClients, listening_at, timed_get

TIMEOUT = 10.0  # seconds one probe may take before it counts as lost


def probe(base: str, count: int) -> dict[str, float]:
    """p50/p99/max of /healthz in ms; a probe that fails counts as TIMEOUT."""
    took = []
    for _ in range(count):
        try:
            seconds, status = timed_get(base + "/healthz", TIMEOUT)
            took.append(seconds if status == 200 else TIMEOUT)
        except requests.RequestException:
            took.append(TIMEOUT)
        time.sleep(0.02)
    return {"p50": percentile(took, 0.5) * 1000, "p99": percentile(took, 0.99) * 1000,
            "max": max(took) * 1000, "lost": sum(1 for t in took if t >= TIMEOUT)}


def run(work: Path, endpoint: str, name: str, http: dict[str, Any], slow: int,
        args: argparse.Namespace, reopen: bool = False) -> dict[str, float]:
    drop = work / "drop"
    drop.mkdir(exist_ok=True)
    config = write_config(work / f"{name}.yaml", endpoint, [{"path": str(drop)}],
                          http={"listen": "127.0.0.1:0", "require_token": "never", **http})
    log = work / f"{name}.log"
    try:
        daemon = DaemonProc(config, log)
    except TimeoutError:
        raise SystemExit(f"the daemon did not start:\n{log.read_text(errors='replace')}") \
            from None
    try:
        base = listening_at(log)
        host, port = base.removeprefix("http://").rsplit(":", 1)
        if not slow:
            return {**probe(base, args.probes), "open": 0}
        with SlowClients((host, int(port)), slow, args.every, reopen) as clients:
            time.sleep(2 * args.every)  # a few bytes in from each trickling client
            figures = probe(base, args.probes)
            return {**figures, "open": clients.open_now()}
    finally:
        daemon.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=100, help="slow connections")
    parser.add_argument("--probes", type=int, default=50, help="/healthz requests per run")
    parser.add_argument("--every", type=float, default=0.5,
                        help="seconds between the bytes of one slow client")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ossync-bench-slow-") as tmp:
        work = Path(tmp)
        with LocalOSS(work / "oss", [BUCKET], CREDS) as server:
            rows = {
                "no slow clients": run(work, server.endpoint, "none", {}, 0, args),
                f"{args.slow} slow, all held open": run(
                    work, server.endpoint, "held",
                    {"client_connections": 256, "request_timeout": "5m"}, args.slow, args),
                f"{args.slow} slow, reopening, default caps": run(
                    work, server.endpoint, "capped", {}, args.slow, args, reopen=True),
            }
    print(f"/healthz from 127.0.0.1, {args.probes} probes per run, each on a new connection; "
          f"slow clients also from 127.0.0.1, one byte each every {args.every}s")
    print(f"  {'':40} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'lost':>5} {'open':>5}")
    for name, row in rows.items():
        print(f"  {name:40} {row['p50']:8.2f} {row['p99']:8.2f} {row['max']:8.2f} "
              f"{row['lost']:5.0f} {row['open']:5.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
