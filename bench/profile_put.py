"""Where `ossync put`'s CPU goes: py-spy samples every thread of one run of the `put`
scenario, and each sample is put in one area by the innermost frame that names one.

    python bench/profile_put.py [--files N] [--rate HZ] [--raw OUT.txt]
    python bench/profile_put.py --summarise OUT.txt

Idle threads (waiting on a socket, a lock, the pool's queue) are not sampled, so the
percentages are of the samples where a thread was running.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import BUCKET, CREDS
from put_cost import bytecode_env, files, one_run, ossync_command

from ossync.localoss import LocalOSS

# Samples whose innermost frame blocks: on this shared machine py-spy counts a thread as
# active while it is runnable, so waits that just ended (a response, a lock, a queue) show
# up. They are counted apart; the other areas are where the CPU goes.
WAITS: list[tuple[str, str]] = [
    ("wait: socket send/receive", r"SocketIO\.readinto|HTTPConnection\.send \(http/client|"
     r"wait_for_socket|do_poll"),
    ("wait: locks, queues, futures", r"Condition\.wait|Condition\.__enter__|Event\.wait|"
     r"Future\.result|_result_or_cancel|Queue\.get|"
     r"sqlite/base\.py:(28|52)\)"),  # the ledger's `with self.lock` lines
]
# (area, pattern on one frame "function (file:line)"); the innermost frame that matches
# any pattern decides, patterns tried in this order on each frame.
AREAS: list[tuple[str, str]] = [
    ("imports/start-up", r"<frozen importlib|_find_and_load|_call_with_frames_removed"),
    ("logging", r"\(logging/|logsetup\.py"),
    ("requests env (proxies, netrc, settings merge)",
     r"merge_environment_settings|get_environ_proxies|get_netrc_auth|should_bypass_proxies|"
     r"proxy_bypass|getproxies|rebuild_proxies|resolve_proxies|select_proxy|netrc|"
     r"merge_setting|to_key_val_list"),
    ("HTTP body (reader, CRC of sent bytes)", r"form_body\.py|targets/reader\.py"),
    ("hashing (read_facts: SHA-256, CRC-64)", r"read_facts|chunks\.py"),
    ("EXIF/date", r"exif_datetime|choose_date|intake/media\.py"),
    ("key rendering", r"key_for|render_key|core/keys\.py|real_ext"),
    ("signing", r"signing\.py|post_policy\.py"),
    ("ledger", r"ossync/ledger/|sqlite3|put_records\.py"),
    ("target: upload and POST wrappers, open/stat", r"ossync/targets/"),
    ("put: per-file checks and outcomes", r"ossync/cli/put\.py|ossync/cli/paths\.py"),
    ("requests/urllib3/http.client internals", r"requests/|urllib3/|http/client\.py|socket\.py"),
    ("thread pool", r"concurrent/futures|threading\.py"),
    ("config/CLI start-up", r"ossync/config/|ossync/cli/|argparse|yaml/"),
]
EXTRA: list[str] = []  # more py-spy options (--gil, --nonblocking)
_COMPILED = [(area, re.compile(pattern)) for area, pattern in AREAS]
_WAITS = [(area, re.compile(pattern)) for area, pattern in WAITS]


def area_of(frames: list[str]) -> str:
    for area, pattern in _WAITS:
        if frames and pattern.search(frames[-1]):
            return area
    for frame in reversed(frames):  # innermost first
        for area, pattern in _COMPILED:
            if pattern.search(frame):
                return area
    return "other"


def summarise(raw: Path) -> dict[str, tuple[float, float | None]]:
    """Per area, percent of all samples and (not for waits) of the samples not waiting,
    from py-spy's `--format raw` (collapsed stacks)."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[area_of(stack.split(";"))] += int(count)
    total = sum(counts.values()) or 1
    busy = sum(n for area, n in counts.items() if not area.startswith("wait:")) or 1
    return {area: (round(100 * n / total, 1),
                   None if area.startswith("wait:") else round(100 * n / busy, 1))
            for area, n in counts.most_common()}


def record(count: int, rate: int, raw: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="ossync-profile-put-"))
    try:
        paths = files(work / "src", count, 200_000)
        one_run(work, "ossync", paths[:1], 4)  # untimed: keeps the bytecode, as measured
        with LocalOSS(work / "oss", [BUCKET], CREDS) as server:
            cmd = ossync_command(work, server.endpoint, paths, 4)
            spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
            subprocess.run([spy, "record", "-r", str(rate), "-f", "raw", "-o", str(raw),
                            *EXTRA, "--", *cmd], check=True, env=bytecode_env(work),
                           stdout=subprocess.DEVNULL)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--raw", type=Path, default=Path("put-profile.txt"))
    parser.add_argument("--summarise", type=Path, default=None)
    args = parser.parse_args()
    if args.summarise is None:
        record(args.files, args.rate, args.raw)
    print("  all %  busy %  area")
    for area, (percent, busy) in summarise(args.summarise or args.raw).items():
        print(f"{percent:6.1f}  {'' if busy is None else f'{busy:6.1f}':>6}  {area}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
