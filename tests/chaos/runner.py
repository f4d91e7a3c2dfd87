"""The chaos runner: files dropped by odd writers while the daemon uploads through a faulty
endpoint and is killed with SIGKILL again and again; then every promise is checked.

    python -m tests.chaos.runner --files 1000 --kills 50 --faults 0.3 --seed 1

prints one line, e.g. (wrapped here)
    files=1000 kills=50 faults=30% lost=0 duplicates=0 partial=0 mismatched=0 orphans=0
    secrets_leaked=0

and exits 1 unless every figure after `faults` is 0.
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
from ossync.ledger import Ledger
from ossync.localoss import LocalOSS
from tests.faults import FaultPlan, FaultProxy

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
    faults: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicates or self.partial or self.mismatched
                    or self.orphans or self.secrets_leaked)

    def line(self) -> str:
        return (f"files={self.files} kills={self.kills} faults={self.fault_rate:.0%} "
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

    def __init__(self, drop: Path, rng: random.Random, max_size: int) -> None:
        self.drop = drop
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
            sub = self.drop / f"d{index % 5}"
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


def _settled(ledger: Path, expected: dict[str, bytes]) -> bool:
    """Every dropped file is uploaded (non-empty) or skipped (empty)."""
    if not ledger.exists():
        return False
    with Ledger.open(ledger, readonly=True) as led:
        states = {r["path"]: r["state"] for r in led.query("SELECT path, state FROM files")}
    return all(states.get(p) == ("skipped" if not d else "uploaded") or
               (len(d) == 0 and states.get(p) == "skipped") for p, d in expected.items())


def _bucket(server: LocalOSS) -> dict[str, bytes]:
    store = server.app.buckets[BUCKET]
    objects = {}
    for meta in store.snapshot():
        opened = store.open(meta.key)
        if opened:
            with opened[1] as fh:
                objects[meta.key] = fh.read()
    return objects


def _check(report: Report, server: LocalOSS, ledger: Path, expected: dict[str, bytes],
           secrets: tuple[str, ...], logs: list[Path]) -> None:
    objects = _bucket(server)
    with Ledger.open(ledger, readonly=True) as led:
        rows = {r["path"]: (r["state"], r["key"]) for r in led.query(
            "SELECT f.path, f.state, u.key FROM files f LEFT JOIN uploads u "
            "ON u.id = f.upload_id")}
        recorded_keys = {r["key"] for r in led.query("SELECT key FROM uploads")}
    for path, data in expected.items():
        state, key = rows.get(path, (None, None))
        if not data:
            if state != "skipped":
                report.lost += 1
                report.problems.append(f"empty file {path} is {state}")
            continue
        if state != "uploaded" or key not in objects:
            report.lost += 1
            report.problems.append(f"lost {path}: state {state}, key {key}")
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
              workdir: Path | None = None) -> Report:
    began = time.monotonic()
    rng = random.Random(seed)
    work = workdir or Path(tempfile.mkdtemp(prefix="ossync-chaos-"))
    drop = work / "drop"
    drop.mkdir(parents=True, exist_ok=True)
    secret = f"chaos-secret-{rng.getrandbits(64):016x}"
    token = "CAIS" + f"{rng.getrandbits(256):064x}" * 8
    creds = Credentials("LTAI5tChaosKey0001", secret, token)
    report = Report(files, kills, fault_rate)
    plan = FaultPlan({k: v * fault_rate for k, v in FAULT_MIX.items()}, seed=seed,
                     stall_seconds=6.0)
    with LocalOSS(work / "oss", [BUCKET], creds) as server, \
            FaultProxy(server.endpoint, plan) as proxy:
        config = work / "config.yaml"
        config.write_text(yaml.safe_dump({
            "oss": {"endpoint": proxy.endpoint, "region": "cn-hangzhou", "bucket": BUCKET,
                    "read_timeout": "3s", "connect_timeout": "2s"},
            "ledger": str(work / "ledger.db"), "settle_seconds": 0.4, "workers": 4,
            "scan_interval": "5s", "retry_initial_delay": 0.2, "retry_max_delay": 2,
            "date_source": "mtime",
            "watch": [{"path": str(drop), "label": "chaos"}]}))
        env = {**os.environ, "OSS_ACCESS_KEY_ID": creds.access_key_id,
               "OSS_ACCESS_KEY_SECRET": secret, "OSS_SESSION_TOKEN": token}
        log = work / "daemon.log"
        daemon = Daemon(config, log, env)
        daemon.start()
        writers = Writers(drop, rng, max_size)
        writer_threads = [threading.Thread(target=lambda i=i: [writers.write(n) for n in
                                                               range(i, files, 4)])
                          for i in range(4)]
        try:
            for thread in writer_threads:
                thread.start()
            for kill in range(kills):
                time.sleep(rng.uniform(0.3, 1.5))
                daemon.kill()
                if kill == kills // 2:
                    proxy.outage(2.0)  # and the network goes away for a moment
                daemon.start()
            for thread in writer_threads:
                thread.join()
            while time.monotonic() - began < deadline:
                if _settled(work / "ledger.db", writers.expected):
                    break
                time.sleep(0.5)
        finally:
            daemon.stop()
            for thread in writer_threads:
                thread.join()
        report.faults = proxy.counts.copy()
        _check(report, server, work / "ledger.db", writers.expected, creds.secrets(), [log])
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
    args = parser.parse_args()
    report = run_chaos(args.files, args.kills, args.faults, args.seed, args.max_size,
                       args.deadline)
    print(report.line())
    print(f"took {report.seconds:.0f}s; faults injected: {dict(report.faults)}")
    for problem in report.problems[:50]:
        print(f"  {problem}")
    return 0 if report.clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
