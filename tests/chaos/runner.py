"""The chaos runner: files dropped by odd writers while the daemon uploads through a faulty
endpoint and is killed with SIGKILL again and again; then every promise is checked.

    python -m tests.chaos.runner --files 1000 --kills 50 --faults 0.3 --seed 1

prints one line, e.g. (wrapped here)
    files=1000 kills=50 faults=30% lost=0 duplicates=0 partial=0 mismatched=0 orphans=0
    secrets_leaked=0

and exits 1 unless every figure after `faults` is 0. With `--hosts 3 --db-restarts 2`
three daemons share one PostgreSQL ledger (a throw-away server), each killed in turn,
while the database is restarted twice.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ossync.core.credentials import Credentials
from ossync.ledger import Ledger, LedgerError
from ossync.localoss import LocalOSS
from tests.faults import FaultPlan, FaultProxy
from tests.pg_server import PgServer, require_pg

BUCKET = "chaos-bucket"
# How a total fault rate is shared between the kinds of fault.
FAULT_MIX = {"error": 0.30, "reset": 0.15, "lost": 0.20, "badcrc": 0.10, "skew": 0.10,
             "stall": 0.05, "trickle": 0.10}
WRITERS = ("fast", "trickle", "zero_then_fill", "temp_rename", "twin")


@dataclass
class Report:
    files: int
    kills: int
    fault_rate: float
    lost: int = 0
    duplicates: int = 0
    partial: int = 0
    mismatched: int = 0
    orphans: int = 0
    secrets_leaked: int = 0
    seconds: float = 0.0
    hosts: int = 1
    db_restarts: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicates or self.partial or self.mismatched
                    or self.orphans or self.secrets_leaked)

    def line(self) -> str:
        fleet = f"hosts={self.hosts} db_restarts={self.db_restarts} " if self.hosts > 1 else ""
        return (f"{fleet}files={self.files} kills={self.kills} faults={self.fault_rate:.0%} "
                f"lost={self.lost} duplicates={self.duplicates} partial={self.partial} "
                f"mismatched={self.mismatched} orphans={self.orphans} "
                f"secrets_leaked={self.secrets_leaked}")


def _payload(rng: random.Random, max_size: int) -> bytes:
    roll = rng.random()
    size = (0 if roll < 0.02 else rng.randint(1, 4_000) if roll < 0.3
            else rng.randint(4_000, 300_000) if roll < 0.97 else rng.randint(300_000, max_size))
    body = rng.randbytes(size)
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + body + b"\xff\xd9"


class Writers:
    """Drops files in the styles real cameras, scanners and shares use."""

    def __init__(self, drops: list[Path], rng: random.Random, max_size: int) -> None:
        self.drops = drops
        self.rng = rng
        self.max_size = max_size
        self.expected: dict[str, bytes] = {}  # final path → final bytes
        self._lock = threading.Lock()

    def write(self, index: int) -> None:
        with self._lock:
            style = self.rng.choice(WRITERS)
            data = _payload(self.rng, self.max_size)
            if style == "twin" and self.expected:
                data = self.rng.choice(list(self.expected.values()))
            sub = self.drops[index % len(self.drops)] / f"d{index % 5}"
            path = sub / f"IMG_{index:05d}.jpg"
            self.expected[str(path)] = data
            pause = self.rng.uniform(0.02, 0.1)
        sub.mkdir(exist_ok=True)
        if style == "trickle":
            with path.open("wb") as fh:
                for start in range(0, len(data), max(len(data) // 8, 1)):
                    fh.write(data[start:start + max(len(data) // 8, 1)])
                    fh.flush()
                    time.sleep(pause)
        elif style == "zero_then_fill":
            path.touch()
            time.sleep(pause * 5)
            path.write_bytes(data)
        elif style == "temp_rename":
            temp = sub / f".IMG_{index:05d}.jpg.part"
            temp.write_bytes(data)
            temp.rename(path)
        else:
            path.write_bytes(data)


class Daemon:
    """`ossync run` as a subprocess that the runner kills and restarts."""

    def __init__(self, config: Path, log: Path, env: dict[str, str]) -> None:
        self.config, self.log, self.env = config, log, env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ossync", "run", "-c", str(self.config)],
                stdout=out, stderr=subprocess.STDOUT, env=self.env)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()


def _rows(ledger: Path | str) -> dict[str, tuple[str, str | None]]:
    """path → (state, key of its object) — paths are distinct across the runner's hosts."""
    if "://" not in str(ledger) and not Path(ledger).exists():
        return {}
    try:
        with Ledger.open(ledger, readonly=True) as led:
            keys = {u.id: u.key for u in led.iter_uploads()}
            return {r.path: (r.state, keys.get(r.upload_id) if r.upload_id else None)
                    for r in led.iter_files()}
    except LedgerError:  # not created yet, or the database is restarting
        return {}


def _row_of(ledger: Path | str, path: str) -> object:
    """The whole files row of a path (its due time, claim, lease, attempts, error): what a
    lost file's report needs to tell why nobody took it."""
    with Ledger.open(ledger, readonly=True) as led:
        found = [r for r in led.iter_files() if r.path == path]
    return found[0] if found else None


def _settled(ledger: Path | str, expected: dict[str, bytes]) -> bool:
    """Every dropped file is uploaded (non-empty) or skipped (empty)."""
    rows = _rows(ledger)
    return bool(rows) and all(rows.get(p, ("",))[0] == ("uploaded" if d else "skipped")
                              for p, d in expected.items())


def _bucket(server: LocalOSS) -> dict[str, bytes]:
    store = server.app.buckets[BUCKET]
    objects = {}
    for meta in store.snapshot():
        opened = store.open(meta.key)
        if opened:
            with opened[1] as fh:
                objects[meta.key] = fh.read()
    return objects


def _check(report: Report, server: LocalOSS, ledger: Path | str, expected: dict[str, bytes],
           secrets: tuple[str, ...], logs: list[Path]) -> None:
    objects = _bucket(server)
    rows = _rows(ledger)
    with Ledger.open(ledger, readonly=True) as led:
        recorded_keys = {u.key for u in led.iter_uploads()}
    for path, data in expected.items():
        state, key = rows.get(path, (None, None))
        if not data:
            if state != "skipped":
                report.lost += 1
                report.problems.append(f"empty file {path} is {state}")
            continue
        if state != "uploaded" or key not in objects:
            report.lost += 1
            report.problems.append(f"lost {path}: state {state}, key {key}; row "
                                   f"{_row_of(ledger, path)}")
        elif objects[key] != data:
            report.mismatched += 1
            report.problems.append(f"mismatched {path} → {key}")
    wanted = {hashlib.sha256(d).hexdigest() for d in expected.values() if d}
    seen = Counter(hashlib.sha256(b).hexdigest() for b in objects.values())
    report.duplicates = sum(n - 1 for n in seen.values() if n > 1)
    report.partial = sum(1 for h in seen if h not in wanted)
    report.orphans = len(set(objects) ^ recorded_keys)
    for key in set(objects) ^ recorded_keys:
        report.problems.append(f"orphan: key {key} is in the "
                               f"{'bucket only' if key in objects else 'ledger only'}")
    text = b"".join(p.read_bytes() for p in logs if p.exists())
    report.secrets_leaked = sum(text.count(s.encode()) for s in secrets)


def run_chaos(files: int, kills: int, fault_rate: float, seed: int = 1,
              max_size: int = 2_000_000, deadline: float = 600.0,
              workdir: Path | None = None, hosts: int = 1, pg: PgServer | None = None,
              db_restarts: int = 0) -> Report:
    """One daemon on SQLite, or with `pg` several (`hosts`) on one PostgreSQL ledger, each
    with its own drop folder (twins cross hosts); kills hit a random daemon, and the
    database is restarted `db_restarts` times along the way."""
    began = time.monotonic()
    rng = random.Random(seed)
    work = workdir or Path(tempfile.mkdtemp(prefix="ossync-chaos-"))
    secret = f"chaos-secret-{rng.getrandbits(64):016x}"
    token = "CAIS" + f"{rng.getrandbits(256):064x}" * 8
    creds = Credentials("LTAI5tChaosKey0001", secret, token)
    report = Report(files, kills, fault_rate, hosts=hosts)
    plan = FaultPlan({k: v * fault_rate for k, v in FAULT_MIX.items()}, seed=seed,
                     stall_seconds=6.0)
    ledger: Path | str = pg.new_database() if pg else work / "ledger.db"
    restarts_at = {kills * (i + 1) // (db_restarts + 1) for i in range(db_restarts)}
    with LocalOSS(work / "oss", [BUCKET], creds) as server, \
            FaultProxy(server.endpoint, plan) as proxy:
        env = {**os.environ, "OSS_ACCESS_KEY_ID": creds.access_key_id,
               "OSS_ACCESS_KEY_SECRET": secret, "OSS_SESSION_TOKEN": token}
        daemons, logs, drops = [], [], []
        for h in range(hosts):
            drop = work / ("drop" if hosts == 1 else f"drop-h{h}")
            drop.mkdir(parents=True, exist_ok=True)
            config = work / f"config-h{h}.yaml"
            config.write_text(yaml.safe_dump({
                "oss": {"endpoint": proxy.endpoint, "region": "cn-hangzhou", "bucket": BUCKET,
                        "read_timeout": "3s", "connect_timeout": "2s"},
                "ledger": str(ledger), "host": f"h{h}", "settle_seconds": 0.4, "workers": 4,
                "scan_interval": "5s", "retry_initial_delay": 0.2, "retry_max_delay": 2,
                "date_source": "mtime", "watch": [{"path": str(drop), "label": "chaos"}]}))
            logs.append(work / f"daemon-h{h}.log")
            daemons.append(Daemon(config, logs[-1], env))
            drops.append(drop)
        for daemon in daemons:
            daemon.start()
        writers = Writers(drops, rng, max_size)
        writer_threads = [threading.Thread(target=lambda i=i: [writers.write(n) for n in
                                                               range(i, files, 4)])
                          for i in range(4)]
        try:
            for thread in writer_threads:
                thread.start()
            for kill in range(kills):
                time.sleep(rng.uniform(0.3, 1.5))
                victim = rng.choice(daemons)
                victim.kill()
                if kill == kills // 2:
                    proxy.outage(2.0)  # and the network goes away for a moment
                if pg is not None and kill in restarts_at:
                    pg.restart()  # the database dies and comes back
                    report.db_restarts += 1
                victim.start()
            for thread in writer_threads:
                thread.join()
            while time.monotonic() - began < deadline:
                if _settled(ledger, writers.expected):
                    break
                time.sleep(0.5)
        finally:
            for daemon in daemons:
                daemon.stop()
            for thread in writer_threads:
                thread.join()
        report.faults = proxy.counts.copy()
        _check(report, server, ledger, writers.expected, creds.secrets(), logs)
    report.seconds = time.monotonic() - began
    if workdir is None and report.clean:
        shutil.rmtree(work, ignore_errors=True)
    elif not report.clean:
        report.problems.append(f"work folder kept: {work}")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description="ossync chaos runner")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--faults", type=float, default=0.3, help="total fault rate (0-1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-size", type=int, default=20_000_000)
    parser.add_argument("--deadline", type=float, default=1800.0)
    parser.add_argument("--hosts", type=int, default=1,
                        help="daemons on one PostgreSQL ledger (more than 1 starts a server)")
    parser.add_argument("--db-restarts", type=int, default=0)
    args = parser.parse_args()
    pg = PgServer(require_pg()).start() if args.hosts > 1 else None
    try:
        report = run_chaos(args.files, args.kills, args.faults, args.seed, args.max_size,
                           args.deadline, hosts=args.hosts, pg=pg,
                           db_restarts=args.db_restarts)
    finally:
        if pg is not None:
            pg.destroy()
    print(report.line())
    print(f"took {report.seconds:.0f}s; faults injected: {dict(report.faults)}")
    for problem in report.problems[:50]:
        print(f"  {problem}")
    return 0 if report.clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
