"""ossync over a WAN-like link: 40 ms round trip, 100 Mbit/s each way, between the
uploader and the local endpoint, every figure a ratio measured in the same run.

    python bench/wan.py [--quick] [--only NAME ...] [--rtt 0.04] [--rate 100Mbit/s]
                        [--workers N] [--part-size SIZE] [--part-concurrency N]
                        [--link userspace|netem]

The link is `tests.link.Link`, a userspace TCP relay (this kernel has no sch_netem):
one shared bottleneck per direction paced by a token bucket, each byte delayed by half
the round trip, a bounded queue. `--link netem` instead re-runs this script inside a
network namespace whose loopback has `tc qdisc ... netem delay rate` (where the
kernel has it), with no relay in the path.

Scenarios (each bounded in time; every server and daemon is stopped at the end):
- limit:  a bare client (pre-signed POST forms, 16 connections, no hashing, no ledger)
          sending the small files: what HTTP uploads through this link can reach;
- drops:  the daemon, N × 2 MB photos (`--photo-mb`) moved into its folder at once;
- big:    `ossync put` of one big file (parts in parallel);
- bigs:   the daemon, four big files at once (every worker sending parts);
- rclone: `rclone copy` of the same photos and the same big file to the same endpoint
          (its S3 dialect), through the same link;
- resume: the daemon sending the big file, SIGKILLed at half of its parts, restarted:
          bytes that crossed the link over the file's size;
- cap:    the daemon with `max_bandwidth: 5MB/s`, the link's bytes over 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import BUCKET, CREDS, ENV, DaemonProc, jpeg, uploaded_count, write_config

from ossync.core.units import parse_rate, parse_size
from ossync.ledger import Ledger
from ossync.localoss import LocalOSS
from ossync.targets.oss.signing import post_form_fields
from ossync.targets.post_policy import PostUpload
from tests.link import Link

Results = dict[str, Any]
REGION = "cn-hangzhou"
MB = 1_000_000
CAP = 5 * MB
STALL = 0.2  # seconds a connection's direction pauses on a "lost" chunk (an RTO)


class Bench:
    """One run's settings, the files it made, and the endpoint/link it starts."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.rtt = args.rtt
        self.rate = parse_rate(args.rate) or 12.5e6
        self.count = 100 if args.quick else 500
        self.photo_size = int(args.photo_mb * MB)
        self.big_size = (512 if args.quick else 2048) * MB
        self.cap_seconds = 30.0 if args.quick else 60.0

    @cached_property
    def photos(self) -> Path:
        """The small files, made when a scenario first needs them."""
        folder = self.work / "photos"
        folder.mkdir()
        for i in range(self.count):
            (folder / f"IMG_{i:05d}.jpg").write_bytes(jpeg(self.photo_size, i))
        return folder

    @cached_property
    def big(self) -> Path:
        """A TIFF-looking file of repeated random blocks (cheap to make, no zeros)."""
        path = self.work / "big" / "slide.tif"
        path.parent.mkdir()
        block = os.urandom(16 * 1024 * 1024)
        with path.open("wb") as fh:
            fh.write(b"II*\x00")
            left = self.big_size - 4
            while left > 0:
                fh.write(block[: min(left, len(block))])
                left -= len(block)
        return path

    def endpoint(self) -> tuple[LocalOSS, Link]:
        server = LocalOSS(self.work / f"oss-{time.monotonic_ns()}", [BUCKET], CREDS,
                          region=REGION).start()
        host, port = server.endpoint.rsplit(":", 1)
        # Inside `--link netem` the kernel shapes the traffic: the relay only counts.
        shaped = self.args.link != "none"
        link = Link((host.removeprefix("http://"), int(port)), rtt=self.rtt if shaped else 0.0,
                    rate_up=self.rate if shaped else None,
                    rate_down=self.rate if shaped else None,
                    stall_probability=self.args.stalls if shaped else 0.0,
                    stall=STALL, seed=7).start()
        return server, link

    def transfer(self) -> dict[str, Any]:
        """The config keys under test (`--workers` and friends), as YAML values."""
        keys: dict[str, Any] = {"workers": self.args.workers,
                                "part_concurrency": self.args.part_concurrency,
                                "multipart_threshold": self.args.multipart_threshold}
        if self.args.part_size:
            keys["part_size"] = self.args.part_size
        return keys


class Watched:
    """A watch folder of the daemon's, and its config, ledger and log beside it."""

    def __init__(self, bench: Bench, endpoint: str, name: str, **extra: Any) -> None:
        self.folder = bench.work / f"{name}-{time.monotonic_ns()}"
        self.folder.mkdir()
        base = self.folder.parent / self.folder.name
        self.ledger, self.log = base.with_suffix(".db"), base.with_suffix(".log")
        self.config = write_config(base.with_suffix(".yaml"), endpoint,
                                   [{"path": str(self.folder), "settle_seconds": 0.5}],
                                   ledger=str(self.ledger), **bench.transfer(), **extra)

    def move_in(self, staged: Path, count: int, timeout: float) -> float:
        """Move every staged file in at once; seconds until `count` are uploaded."""
        began = time.monotonic()
        for path in sorted(staged.iterdir()):
            path.rename(self.folder / path.name)
        _wait(lambda: uploaded_count(self.ledger) >= count, timeout)
        staged.rmdir()
        return time.monotonic() - began


def _bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --- scenarios -----------------------------------------------------------------------


def limit(bench: Bench) -> Results:
    """Pre-signed POST forms over 16 connections: the ceiling for HTTP uploads here."""
    server, link = bench.endpoint()
    files = sorted(bench.photos.iterdir())
    try:
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=16)
        session.mount("http://", adapter)
        base = f"{link.endpoint}/{BUCKET}/"

        def send(path: Path) -> None:
            fields = post_form_fields(CREDS, PostUpload(BUCKET, f"bare/{path.name}",
                                                        path.stat().st_size, "image/jpeg"),
                                      region=REGION, now=datetime.now(timezone.utc),
                                      lifetime=timedelta(minutes=15))
            with path.open("rb") as fh:
                resp = session.post(base, data=fields, files={"file": (path.name, fh,
                                                                       "image/jpeg")},
                                    timeout=120)
            resp.raise_for_status()

        link.reset_counters()
        began = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(send, files))
        seconds = time.monotonic() - began
    finally:
        link.stop()
        server.stop()
    total = _bytes(bench.photos)
    return {"files": len(files), "seconds": round(seconds, 1),
            "mb_per_s": round(total / seconds / MB, 2),
            "of_link": round(total / seconds / bench.rate, 3)}


def drops(bench: Bench) -> Results:
    """The daemon; every photo moved into its watch folder at once."""
    server, link = bench.endpoint()
    watched = Watched(bench, link.endpoint, "drop")
    daemon = DaemonProc(watched.config, watched.log)
    try:
        staged = bench.work / "staged"
        shutil.copytree(bench.photos, staged)
        link.reset_counters()
        seconds = watched.move_in(staged, bench.count,
                                  40 * bench.count * bench.photo_size / bench.rate + 120)
    finally:
        daemon.stop()
        link.stop()
        server.stop()
    total = _bytes(bench.photos)
    return {"files": bench.count, "workers": bench.args.workers,
            "seconds": round(seconds, 1), "mb_per_s": round(total / seconds / MB, 2),
            "of_link": round(total / seconds / bench.rate, 3),
            "link_bytes_over_data": round(link.bytes_up / total, 3)}


def _put(bench: Bench, endpoint: str, ledger: Path) -> float:
    config = write_config(ledger.with_suffix(".yaml"), endpoint, [], ledger=str(ledger),
                          **bench.transfer())
    path = bench.big  # made before the clock starts
    began = time.monotonic()
    subprocess.run([sys.executable, "-m", "ossync", "put", "-c", str(config), str(path)],
                   check=True, env=ENV, capture_output=True,
                   timeout=30 * bench.big_size / bench.rate + 120)
    return time.monotonic() - began


def big(bench: Bench) -> Results:
    server, link = bench.endpoint()
    try:
        link.reset_counters()
        seconds = _put(bench, link.endpoint, bench.work / f"big-{time.monotonic_ns()}.db")
    finally:
        link.stop()
        server.stop()
    return {"mb": bench.big_size // MB, "part_size": bench.args.part_size or "auto (8MiB)",
            "part_concurrency": bench.args.part_concurrency, "seconds": round(seconds, 1),
            "mb_per_s": round(bench.big_size / seconds / MB, 2),
            "of_link": round(bench.big_size / seconds / bench.rate, 3),
            "connections": link.connections}


def bigs(bench: Bench) -> Results:
    """The daemon, four big files (a quarter of `big` each) dropped at once: every worker
    sends parts in parallel, so connections are reused only if the pool holds them all."""
    server, link = bench.endpoint()
    watched = Watched(bench, link.endpoint, "bigs")
    daemon = DaemonProc(watched.config, watched.log)
    quarter = bench.big_size // 4
    try:
        staged = bench.work / "bigs-staged"
        staged.mkdir()
        with bench.big.open("rb") as src:
            for i in range(4):  # each its own TIFF: the big file's bytes behind a header
                (staged / f"slide-{i}.tif").write_bytes(b"II*\x00" + src.read(quarter)[4:])
        link.reset_counters()
        seconds = watched.move_in(staged, 4, 40 * bench.big_size / bench.rate + 120)
    finally:
        daemon.stop()
        link.stop()
        server.stop()
    return {"files": 4, "mb_each": quarter // MB, "seconds": round(seconds, 1),
            "mb_per_s": round(4 * quarter / seconds / MB, 2),
            "of_link": round(4 * quarter / seconds / bench.rate, 3),
            "connections": link.connections}


def _rclone_env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    env.update({"RCLONE_CONFIG_W_TYPE": "s3", "RCLONE_CONFIG_W_PROVIDER": "Other",
                "RCLONE_CONFIG_W_ENDPOINT": endpoint, "RCLONE_CONFIG_W_REGION": REGION,
                "RCLONE_CONFIG_W_ACCESS_KEY_ID": CREDS.access_key_id,
                "RCLONE_CONFIG_W_SECRET_ACCESS_KEY": CREDS.access_key_secret,
                "RCLONE_CONFIG_W_FORCE_PATH_STYLE": "true"})
    return env


def rclone(bench: Bench) -> Results:
    """`rclone copy` (defaults: 4 transfers, 5 MiB chunks, 4 chunks at once) of the same
    photos and the same big file, to the endpoint's S3 dialect through the same link."""
    if not shutil.which("rclone"):
        return {"skipped": "rclone is not installed (apt-get install rclone)"}
    out: Results = {}
    for name, source in (("photos", bench.photos), ("big", bench.big.parent)):
        server, link = bench.endpoint()
        try:
            link.reset_counters()
            began = time.monotonic()
            subprocess.run(["rclone", "copy", "--s3-no-check-bucket", str(source),
                            f"w:{BUCKET}/rclone-{name}"], check=True,
                           env=_rclone_env(link.endpoint), capture_output=True,
                           timeout=40 * _bytes(source) / bench.rate + 120)
            seconds = time.monotonic() - began
        finally:
            link.stop()
            server.stop()
        out[name] = {"seconds": round(seconds, 1),
                     "mb_per_s": round(_bytes(source) / seconds / MB, 2),
                     "of_link": round(_bytes(source) / seconds / bench.rate, 3)}
    return out


def _checkpoint_parts(ledger: Path, path: Path) -> tuple[int, int]:
    """(parts recorded, parts in all) of the file's upload in progress, or (0, 0)."""
    if not ledger.exists():
        return 0, 0
    try:
        with Ledger.open(ledger, readonly=True) as led:
            found = led.multipart_of(led.host, str(path))
    except Exception:  # the daemon is creating the tables
        return 0, 0
    if found is None:
        return 0, 0
    row, parts = found
    return len(parts), -(-row.size // row.part_size)


def resume(bench: Bench) -> Results:
    """SIGKILL at half of the big file's parts; restart; count what crossed the link."""
    server, link = bench.endpoint()
    watched = Watched(bench, link.endpoint, "resume")
    ledger, config, log = watched.ledger, watched.config, watched.log
    target = watched.folder / bench.big.name
    os.link(bench.big, target)
    link.reset_counters()
    try:
        first = DaemonProc(config, log)
        try:
            limit_s = 30 * bench.big_size / bench.rate + 120
            deadline = time.monotonic() + limit_s
            while True:
                done, count = _checkpoint_parts(ledger, target)
                if count and done >= count / 2:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("resume: never reached half of the parts")
                time.sleep(0.05)
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait(10)
        finally:
            first.stop()
        at_kill = link.bytes_up
        second = DaemonProc(config, log)
        try:
            deadline = time.monotonic() + limit_s
            while uploaded_count(ledger) < 1:
                if time.monotonic() > deadline:
                    raise TimeoutError("resume: the upload did not finish")
                time.sleep(0.2)
        finally:
            second.stop()
    finally:
        link.stop()
        server.stop()
    resumed = "resuming upload" in log.read_text()
    return {"mb": bench.big_size // MB, "parts_at_kill": f"{done}/{count}",
            "resumed": resumed, "sent_before_kill_over_file": round(at_kill / bench.big_size, 3),
            "sent_over_file": round(link.bytes_up / bench.big_size, 3)}


def cap(bench: Bench) -> Results:
    """`max_bandwidth: 5MB/s` with more to send than the window holds; the link's bytes
    per second from 10 s after the first byte for `cap_seconds`."""
    server, link = bench.endpoint()
    watched = Watched(bench, link.endpoint, "cap", max_bandwidth="5MB/s")
    daemon = DaemonProc(watched.config, watched.log)
    try:
        link.reset_counters()
        for path in sorted(bench.photos.iterdir()):
            os.link(path, watched.folder / path.name)
        _wait(lambda: link.bytes_up > 0, 60)
        time.sleep(10)
        start_bytes, began = link.bytes_up, time.monotonic()
        time.sleep(bench.cap_seconds)
        sent, seconds = link.bytes_up - start_bytes, time.monotonic() - began
    finally:
        daemon.stop()
        link.stop()
        server.stop()
    rate = sent / seconds
    return {"cap_mb_per_s": CAP / MB, "seconds": round(seconds, 1),
            "mb_per_s": round(rate / MB, 3), "error": round(rate / CAP - 1, 4)}


def _wait(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout}s")
        time.sleep(0.05)


SCENARIOS: dict[str, Callable[[Bench], Results]] = {
    "limit": limit, "drops": drops, "big": big, "bigs": bigs, "rclone": rclone,
    "resume": resume, "cap": cap,
}


def bench_photos(results: dict[str, Results]) -> str:
    return str(results["drops"]["files"])


def summary(results: dict[str, Results]) -> list[tuple[str, str, str]]:
    """(scenario, figure, goal) rows, with the ratios the issue asks for."""
    rows = []
    if "drops" in results:
        d = results["drops"]
        rows.append((f"{bench_photos(results)} photos dropped at once, vs the link",
                     f"{d['of_link']:.2f}", ">= 0.9"))
        if "limit" in results:
            bare = results["limit"]["mb_per_s"]
            rows.append(("photos, vs a bare client", f"{d['mb_per_s'] / bare:.2f}", ""))
    if "big" in results:
        rows.append(("one big file, vs the link", f"{results['big']['of_link']:.2f}", ">= 0.9"))
    r = results.get("rclone", {})
    if "photos" in r and "drops" in results:
        rows.append(("photos, ossync over rclone",
                     f"{results['drops']['mb_per_s'] / r['photos']['mb_per_s']:.2f}", ">= 1.2"))
    if "big" in r and "big" in results:
        rows.append(("big file, ossync over rclone",
                     f"{results['big']['mb_per_s'] / r['big']['mb_per_s']:.2f}", ">= 1.2"))
    if "resume" in results:
        rows.append(("kill -9 at half, bytes sent over file",
                     f"{results['resume']['sent_over_file']:.3f}", "<= 1.1"))
    if "cap" in results:
        rows.append(("max_bandwidth 5MB/s, error over the window",
                     f"{results['cap']['error']:+.2%}", "within 5%"))
    return rows


def _netem(args: argparse.Namespace) -> int:
    """Run this script again inside a fresh network namespace whose loopback delays and
    paces like the link (both directions cross `lo`: delay rtt/2 each way)."""
    name = f"ossync-wan-{os.getpid()}"
    delay_ms = args.rtt * 1000 / 2
    rate = parse_rate(args.rate) or 12.5e6
    setup = [["ip", "netns", "add", name],
             ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
             ["ip", "netns", "exec", name, "tc", "qdisc", "add", "dev", "lo", "root", "netem",
              "delay", f"{delay_ms}ms", "rate", f"{int(rate * 8)}bit", "limit", "10000"]]
    try:
        for cmd in setup:
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"netem is not available here ({' '.join(cmd[4:6]) or cmd[0]}: "
                      f"{done.stderr.strip()}); use --link userspace")
                return 2
        argv = [a for a in sys.argv[1:] if a not in ("--link", "netem")]
        return subprocess.call(["ip", "netns", "exec", name, sys.executable, __file__,
                                "--link", "none", *argv])
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer files, a 512 MB file")
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS))
    parser.add_argument("--rtt", type=float, default=0.04, help="round trip in seconds")
    parser.add_argument("--rate", default="100Mbit/s", help="link rate each way")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--photo-mb", type=float, default=2.0, help="size of each photo")
    parser.add_argument("--part-size", default=None)
    parser.add_argument("--part-concurrency", type=int, default=4)
    parser.add_argument("--stalls", type=float, default=0.0,
                        help="loss as stalls: chance per chunk that its connection pauses "
                             f"{STALL}s (as for a retransmission timeout)")
    parser.add_argument("--multipart-threshold", default="64MiB",
                        help="5GiB: every file as one POST, as before multipart uploads")
    parser.add_argument("--link", choices=("userspace", "netem", "none"), default="userspace",
                        help="none: no emulation of our own (used inside --link netem)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "wan-results.json")
    args = parser.parse_args()
    if args.link == "netem":
        return _netem(args)
    if args.part_size:
        parse_size(args.part_size)
    chosen = args.only or list(SCENARIOS)
    results: dict[str, Results] = {}
    with tempfile.TemporaryDirectory(prefix="ossync-wan-") as tmp:
        bench = Bench(args, Path(tmp))
        for name in chosen:
            began = time.monotonic()
            results[name] = SCENARIOS[name](bench)
            print(f"{name}: {json.dumps(results[name])} ({time.monotonic() - began:.0f}s)",
                  flush=True)
    print(f"\nlink: rtt {args.rtt * 1000:.0f} ms, {args.rate} each way ({args.link}), "
          f"stalls {args.stalls}; "
          f"workers {args.workers}, part_size {args.part_size or 'auto'}, "
          f"part_concurrency {args.part_concurrency}")
    for scenario, figure, goal in summary(results):
        print(f"  {scenario:<48} {figure:>8}   {goal}")
    args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                    "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "wan-bench"
    sys.exit(main())
