"""Webhooks: how soon, how fast, through an outage, and what a backlog costs.

    python bench/webhooks.py [--quick] [--postgres]

Every figure is the real daemon (`ossync run`, a subprocess) against a receiver on
127.0.0.1 that checks each signature with the Standard Webhooks reference library
(tests/webhook_receiver.py), and the bundled local OSS endpoint:

- latency: a file closed in a drop folder → its `file.uploaded` webhook received, p50
  and p99 over 200 files dropped one at a time (goal: p50 ≤ settle_seconds + 100 ms);
- throughput: 2,000 events waiting for one receiver, delivered one by one over one
  kept-alive connection (goal ≥ 200 deliveries/s per endpoint);
- outage: the receiver down for 60 s while 500 files upload, then back: every event
  delivered, no path under two ids, and the backlog drained within one back-off step;
- backlog: 100,000 undelivered events (the receiver refusing connections): the
  daemon's RSS beside the same daemon with none, and the ledger's bytes per event.

`--quick` runs smaller numbers; `--postgres` adds the throughput on a PostgreSQL ledger
(fsync on). Prints one line per figure.
"""

from __future__ import annotations

import argparse
import re
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BUCKET, CREDS, DaemonProc, jpeg, percentile, wait_until, write_config
from ossync.ledger import Ledger
from ossync.ledger.events import NewEvent
from ossync.localoss import LocalOSS
from tests.webhook_receiver import Receiver, write_secret

SETTLE = 0.3


def _config(work: Path, endpoint: str, receiver_url: str, ledger: str | None = None,
            **top: Any) -> Path:
    drop = work / "drop"
    drop.mkdir(exist_ok=True)
    secret = write_secret(work)
    hook = {"url": receiver_url, "name": "app", "secret_file": str(secret),
            **top.pop("hook", {})}
    return write_config(work / "config.yaml", endpoint, [{"path": str(drop), "label": "cam"}],
                        settle_seconds=SETTLE, webhooks=[hook],
                        **({"ledger": ledger} if ledger else {}), **top)


def latency(work: Path, endpoint: str, files: int) -> None:
    with Receiver() as receiver:
        daemon = DaemonProc(_config(work, endpoint, receiver.url), work / "daemon.log")
        try:
            closed: dict[str, float] = {}
            for i in range(files):
                path = work / "drop" / f"IMG_{i:05d}.jpg"
                with path.open("wb") as fh:
                    fh.write(jpeg(200_000, i))
                closed[str(path)] = time.monotonic()
                receiver.wait_taken(i + 1, timeout=60)  # one at a time: no queueing
            taken = {a.payload["data"]["path"]: a.at for a in receiver.taken() if a.payload}
        finally:
            daemon.stop()
    waits = [taken[p] - t for p, t in closed.items()]
    p50, p99 = percentile(waits, 0.5), percentile(waits, 0.99)
    print(f"latency, file closed → webhook received ({files} files, settle_seconds "
          f"{SETTLE}s): p50 {p50 * 1000:.0f} ms (settle + {(p50 - SETTLE) * 1000:.0f} ms), "
          f"p99 {p99 * 1000:.0f} ms (settle + {(p99 - SETTLE) * 1000:.0f} ms)")


def _backlog(location: str | Path, count: int, endpoint: str = "app") -> None:
    """`count` events after the endpoint's cursor, in transactions of 1,000."""
    with Ledger.open(location, host="bench") as ledger:
        ledger.take_cursor(endpoint, 60.0)
        ledger.release_cursor(endpoint)
        for start in range(0, count, 1000):
            with ledger.transaction() as conn:
                for i in range(start, min(start + 1000, count)):
                    ledger._insert_event(conn, NewEvent("file.uploaded", {
                        "path": f"/srv/drop/cam/IMG_{i:06d}.JPG", "folder": "cam",
                        "host": "bench", "key": f"2026/11/25/IMG_{i:06d}-0123abcd.jpg",
                        "url": f"https://{BUCKET}.example/2026/11/25/IMG_{i:06d}-0123abcd.jpg",
                        "sha256": "ab" * 32, "size": 4_000_000, "bucket": BUCKET,
                        "content_type": "image/jpeg", "uploaded_at": "2026-11-25T08:30:00.000Z",
                        "duplicate": False, "uploaded_from": f"/srv/drop/cam/IMG_{i:06d}.JPG",
                        "upload_id": i + 1}, "cam"))


def throughput(work: Path, endpoint: str, events: int, ledger: str | None = None,
               label: str = "SQLite") -> None:
    location = ledger or str(work / "ledger.db")
    with Receiver() as receiver:
        config = _config(work, endpoint, receiver.url, ledger)
        _backlog(location, events)
        daemon = DaemonProc(config, work / "daemon.log")
        try:
            taken = receiver.wait_taken(events, timeout=600)
        finally:
            daemon.stop()
    span = taken[-1].at - taken[0].at
    ordered = [int(a.msg_id) for a in taken] == sorted(int(a.msg_id) for a in taken)
    print(f"throughput, {events} events waiting for one receiver ({label} ledger): "
          f"{(events - 1) / span:.0f} deliveries/s, in order: {ordered}, "
          f"every signature valid: {all(a.verified for a in receiver.attempts)}")


def outage(work: Path, endpoint: str, files: int, down: float, step: float | None) -> None:
    """`step`: the endpoint's retry_max_delay (None: its default, 5m)."""
    receiver = Receiver().start()
    port = receiver.port
    hook = {} if step is None else {"retry_max_delay": f"{step:g}s"}
    daemon = DaemonProc(_config(work, endpoint, receiver.url, hook=hook), work / "daemon.log")
    back: Receiver | None = None
    try:
        (work / "drop" / "before.jpg").write_bytes(jpeg(100_000, -1))
        receiver.wait_taken(1, timeout=60)
        receiver.stop()
        went = time.monotonic()
        for i in range(files):
            (work / "drop" / f"IMG_{i:05d}.jpg").write_bytes(jpeg(100_000, i))
        wait_until(lambda: _uploaded_events(work / "ledger.db") >= files + 1, 600, 0.2)
        uploaded_in = time.monotonic() - went
        time.sleep(max(down - uploaded_in, 0.0))
        waits = re.findall(rb"trying again in (\d+)s", (work / "daemon.log").read_bytes())
        back = Receiver(port=port).start()
        returned = time.monotonic()
        back.wait_taken(files, timeout=600)
        first, last = back.taken()[0].at, back.taken()[-1].at
    finally:
        daemon.stop()
        if back is not None:
            back.stop()
    attempts = [a for r in (receiver, back) for a in r.taken()]
    ids_by_path: dict[str, set[str]] = {}
    for a in attempts:
        if a.payload:
            ids_by_path.setdefault(a.payload["data"]["path"], set()).add(a.msg_id)
    twice = sum(1 for ids in ids_by_path.values() if len(ids) > 1)
    repeats = len(attempts) - len({a.msg_id for a in attempts})
    step_now = int(waits[-1]) if waits else 0
    print(f"outage, receiver down {down:.0f}s while {files} files uploaded (in "
          f"{uploaded_in:.1f}s; retry_max_delay {'5m' if step is None else f'{step:g}s'}, "
          f"{len(waits)} attempts refused): back → first delivery {first - returned:.1f}s "
          f"(the back-off step then: {step_now}s), backlog of {files} drained "
          f"{last - first:.2f}s later; {len(ids_by_path)} paths delivered, under two ids: "
          f"{twice}, repeats of an id: {repeats}")


def _uploaded_events(ledger: Path) -> int:
    if not ledger.exists():
        return 0
    with Ledger.open(ledger, readonly=True) as led:
        return len([e for e in led.events_after(0, 1_000_000) if e.type == "file.uploaded"])


def _refusing_url() -> str:
    """A port nothing listens on: every delivery is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/hook"


def backlog_cost(work: Path, endpoint: str, events: int) -> None:
    rss = {}
    size = {}
    for label, count in (("none", 0), ("backlog", events)):
        run = work / label
        run.mkdir()
        location = run / "ledger.db"
        config = _config(run, endpoint, _refusing_url(), str(location),
                         hook={"retry_max_delay": "2s"})
        Ledger.open(location).close()
        before = location.stat().st_size + _wal(location)
        _backlog(location, count)
        with Ledger.open(location) as ledger:
            ledger.query("PRAGMA wal_checkpoint(TRUNCATE)")
        size[label] = location.stat().st_size + _wal(location) - before
        daemon = DaemonProc(config, run / "daemon.log")
        try:
            if count:  # the sender has read the backlog and is failing at its head
                log = run / "daemon.log"
                wait_until(lambda log=log: b"not delivered, attempt 3" in log.read_bytes(),
                           120, 0.1)
            else:  # the sender holds its cursor, waiting for events
                wait_until(lambda location=location: _held(location), 120, 0.1)
            rss[label] = daemon.rss_mb()
            began = time.monotonic()
            with Ledger.open(location, readonly=True) as ledger:
                [row] = ledger.deliveries()
            looked = time.monotonic() - began
        finally:
            daemon.stop()
    print(f"backlog of {events} undelivered events (receiver refusing): daemon RSS "
          f"{rss['backlog']:.1f} MB against {rss['none']:.1f} MB with none; ledger "
          f"+{size['backlog'] / 1e6:.1f} MB ({size['backlog'] / events:.0f} bytes/event); "
          f"the status of its deliveries ({row.pending} waiting) read in "
          f"{looked * 1000:.0f} ms")


def _held(location: Path) -> bool:
    with Ledger.open(location, readonly=True) as ledger:
        return any(d.claimed_by for d in ledger.deliveries())


def _wal(location: Path) -> int:
    wal = location.with_name(location.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller numbers, for a smoke run")
    parser.add_argument("--postgres", action="store_true",
                        help="also the throughput on a PostgreSQL ledger")
    args = parser.parse_args()
    files, events, (down, out_files), backlog = (
        (30, 300, (10.0, 100), 10_000) if args.quick else (200, 2000, (60.0, 500), 100_000))
    with tempfile.TemporaryDirectory(prefix="ossync-bench-webhooks-") as root:
        work = Path(root)
        with LocalOSS(work / "oss", [BUCKET], CREDS) as server:
            for name, run in (
                    ("latency", lambda w: latency(w, server.endpoint, files)),
                    ("throughput", lambda w: throughput(w, server.endpoint, events)),
                    ("outage", lambda w: outage(w, server.endpoint, out_files, down,
                                                2.5 if args.quick else None)),
                    ("backlog", lambda w: backlog_cost(w, server.endpoint, backlog))):
                folder = work / name
                folder.mkdir()
                run(folder)
            if args.postgres:
                from tests.pg_server import PgServer, require_pg

                pg = PgServer(require_pg()).start(durable=True)
                try:
                    folder = work / "throughput-pg"
                    folder.mkdir()
                    throughput(folder, server.endpoint, events, pg.new_database(),
                               "PostgreSQL")
                finally:
                    pg.destroy()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
