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
from common import BUCKET, CREDS, ENV
from put_cost import files, ossync_command

from ossync.localoss import LocalOSS

# (area, pattern on one frame "function (file:line)"); the innermost frame that matches
# any pattern decides, patterns tried in this order on each frame.
AREAS: list[tuple[str, str]] = [
    ("imports/start-up", r"<frozen importlib|_find_and_load|_call_with_frames_removed"),
    ("logging", r"\(logging/|logsetup\.py"),
    ("requests env (proxies, netrc, settings merge)",
     r"merge_environment_settings|get_environ_proxies|get_netrc_auth|should_bypass_proxies|"
     r"proxy_bypass|getproxies|rebuild_proxies|resolve_proxies|select_proxy|netrc"),
    ("HTTP body (reader, CRC of sent bytes)", r"form_body\.py|targets/reader\.py"),
    ("hashing (read_facts: SHA-256, CRC-64)", r"read_facts|chunks\.py"),
    ("EXIF/date", r"exif_datetime|choose_date|intake/media\.py"),
    ("key rendering", r"key_for|render_key|core/keys\.py|real_ext"),
    ("signing", r"signing\.py|post_policy\.py"),
    ("ledger", r"ossync/ledger/|sqlite3"),
    ("socket I/O", r"sendall|recv_into|\(socket\.py|ssl\.py"),
    ("requests/urllib3/http.client internals", r"requests/|urllib3/|http/client\.py"),
    ("thread pool", r"concurrent/futures|threading\.py"),
    ("config/CLI", r"ossync/config/|ossync/cli/|argparse|yaml/"),
]
EXTRA: list[str] = []  # more py-spy options (--gil, --nonblocking)
_COMPILED = [(area, re.compile(pattern)) for area, pattern in AREAS]


def area_of(frames: list[str]) -> str:
    for frame in reversed(frames):  # innermost first
        for area, pattern in _COMPILED:
            if pattern.search(frame):
                return area
    return "other"


def summarise(raw: Path) -> dict[str, float]:
    """Percent of samples by area, from py-spy's `--format raw` (collapsed stacks)."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[area_of(stack.split(";"))] += int(count)
    total = sum(counts.values()) or 1
    return {area: round(100 * n / total, 1) for area, n in counts.most_common()}


def record(count: int, rate: int, raw: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="ossync-profile-put-"))
    try:
        paths = files(work / "src", count, 200_000)
        with LocalOSS(work / "oss", [BUCKET], CREDS) as server:
            cmd = ossync_command(work, server.endpoint, paths, 4)
            spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
            subprocess.run([spy, "record", "-r", str(rate), "-f", "raw", "-o", str(raw),
                            *EXTRA, "--", *cmd], check=True, env=ENV,
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
    shares = summarise(args.summarise or args.raw)
    for area, percent in shares.items():
        print(f"{percent:6.1f} %  {area}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
