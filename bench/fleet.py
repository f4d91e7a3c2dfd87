"""Many hosts, one PostgreSQL ledger: throughput against one daemon on SQLite, look-ups at
a million rows, and what a claim and a commit cost per file on each backend.

    python bench/fleet.py [--files 2000] [--hosts 3] [--rows 1000000] [--quick]

Starts its own PostgreSQL server (Debian's binaries, fsync on, 127.0.0.1 and a unix
socket in a temp dir) and local endpoint; stops both. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BUCKET, CREDS, DaemonProc, jpeg, wait_until, write_config
from bench.ledger_lookup import fill, time_lookups
from ossync.ledger import Ledger, LedgerError, Sighting
from ossync.localoss import LocalOSS
from ossync.targets import UploadResult
from tests.pg_server import PgServer, require_pg
from tests.queue_helpers import claim, record


def uploaded(location: Path | str) -> int:
    if "://" not in str(location) and not Path(location).exists():
        return 0
    try:
        with Ledger.open(location, readonly=True) as ledger:
            return ledger.counts().get("uploaded", 0)
    except LedgerError:  # not created yet
        return 0


def throughput(work: Path, endpoint: str, ledger: Path | str, hosts: int, files: int) -> float:
    """Files per second from the first drop to the last recorded upload, all hosts."""
    drops = []
    for h in range(hosts):
        drop = work / f"drop-{h}"
        drop.mkdir(parents=True)
        drops.append(drop)
    daemons = [DaemonProc(write_config(work / f"h{h}.yaml", endpoint,
                                      [{"path": str(drop), "label": "cam"}], ledger=str(ledger),
                                      host=f"bench-{h}", settle_seconds=0.2, workers=4),
                          work / f"h{h}.log") for h, drop in enumerate(drops)]
    try:
        began = time.monotonic()
        for h, drop in enumerate(drops):
            for i in range(files):
                (drop / f"IMG_{i:05d}.jpg").write_bytes(jpeg(50_000, h * files + i))
        done = wait_until(lambda: uploaded(ledger) >= hosts * files, 900, 0.2)
        return hosts * files / (done - began)
    finally:
        for daemon in daemons:
            daemon.stop()


def claim_and_commit(location: Path | str, n: int) -> tuple[float, float]:
    """ms per file for the ledger's part of one upload, as a worker's happy path does it:
    the claim, the dedupe look-up, and the record (which releases the content claim)."""
    with Ledger.open(location, host="bench-claims") as ledger:
        ledger.note([Sighting(f"/bench/c{i}.jpg", "cam", 10, 1, 0.0) for i in range(n)])
        began = time.perf_counter()
        claims = 0.0
        for i in range(n):
            t0 = time.perf_counter()
            row = claim(ledger)
            claims += time.perf_counter() - t0
            assert row is not None
            sha = f"{i:064x}"
            assert ledger.claim_content("b", sha)
            assert ledger.stored("b", sha) is None
            record(ledger, row, UploadResult(f"k/{i}.jpg", f"u/{i}", 10, None, 1),
                   bucket="b", sha256=sha, content_type="image/jpeg", mtime_ns=1,
                   dedupe=True)
            ledger.release_content("b", sha)
        total = time.perf_counter() - began
    return claims / n * 1000, total / n * 1000


def transactions(pg: PgServer, database: str) -> tuple[int, int]:
    """(committed transactions, WAL bytes) of a database so far, from PostgreSQL's own
    statistics (each backend reports within a second of its last transaction)."""
    time.sleep(1.5)
    out = pg.sql(f"SELECT xact_commit, pg_current_wal_lsn() - '0/0'::pg_lsn "
                 f"FROM pg_stat_database WHERE datname = '{database}'")
    commits, wal = out.strip().split("|")
    return int(commits), int(float(wal))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000, help="files per host")
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="300 files, 100k rows")
    args = parser.parse_args()
    if args.quick:
        args.files, args.rows = 300, 100_000
    work = Path(tempfile.mkdtemp(prefix="ossync-fleet-"))
    pg = PgServer(require_pg()).start(durable=True)
    try:
        with LocalOSS(work / "oss", [BUCKET], CREDS) as server:
            sqlite_rate = throughput(work / "sqlite", server.endpoint, work / "ledger.db", 1,
                                     args.files)
            print(f"1 daemon on SQLite: {sqlite_rate:.0f} files/s ({args.files} files)")
            url = pg.new_database()
            database = url.rsplit("/", 1)[1]
            before = transactions(pg, database)
            pg_rate = throughput(work / "pg", server.endpoint, url, args.hosts, args.files)
            after = transactions(pg, database)
            files = args.hosts * args.files
            print(f"{args.hosts} daemons on one PostgreSQL: {pg_rate:.0f} files/s "
                  f"({args.hosts} x {args.files} files; {pg_rate / sqlite_rate:.2f}x); "
                  f"{(after[0] - before[0]) / files:.2f} committed transactions and "
                  f"{(after[1] - before[1]) / files / 1024:.1f} KiB of WAL per file "
                  "(pg_stat_database; the daemons' idle polls included)")
        for name, location in (("SQLite", work / "claims.db"), ("PostgreSQL", pg.new_database())):
            claim_ms, file_ms = claim_and_commit(location, 2000)
            print(f"{name}: claim {claim_ms:.3f} ms, ledger work per file (claim, key, "
                  f"content claim, record, release) {file_ms:.3f} ms")
        url = pg.socket_url(pg.new_database().rsplit("/", 1)[1])
        began = time.perf_counter()
        fill(url, args.rows)
        print(f"filled {args.rows:,} rows into PostgreSQL in {time.perf_counter() - began:.0f}s")
        for name, (p50, p99) in time_lookups(url, args.rows, 2000).items():
            print(f"PostgreSQL {name:<16} p50 {p50:.3f} ms   p99 {p99:.3f} ms   "
                  "(goal p99 <= 5 ms, unix socket)")
    finally:
        pg.destroy()


if __name__ == "__main__":
    main()
