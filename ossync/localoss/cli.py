"""`ossync local-oss`: run the local OSS endpoint in the foreground until SIGTERM/SIGINT.

Credentials come from the same environment variables Alibaba's tools read, so a
quick start can point ossync and this server at the same keys.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from ossync.core.credentials import Credentials
from ossync.localoss import LocalOSS

EXIT_CONFIG = 78  # EX_CONFIG: systemd's RestartPreventExitStatus stops a restart loop
EXIT_OSERR = 71


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, required=True,
                        help="directory that holds the buckets (created if missing)")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0 picks a free one)")
    parser.add_argument("--bucket", action="append", required=True, dest="buckets",
                        metavar="BUCKET", help="bucket to serve (repeat for more)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--region", default="cn-hangzhou",
                        help="region V4 signatures must be scoped to")
    parser.add_argument("--public-read", action="store_true",
                        help="allow anonymous GET/HEAD, like a public-read bucket")


def credentials_from_env() -> Credentials | None:
    key_id = os.environ.get("OSS_ACCESS_KEY_ID", "")
    secret = os.environ.get("OSS_ACCESS_KEY_SECRET", "")
    if not key_id or not secret:
        return None
    return Credentials(key_id, secret, os.environ.get("OSS_SESSION_TOKEN") or None)


def run(args: argparse.Namespace) -> int:
    creds = credentials_from_env()
    if creds is None:
        print("local-oss: set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET (and "
              "OSS_SESSION_TOKEN for STS keys) in the environment", file=sys.stderr)
        return EXIT_CONFIG
    root = Path(args.root).resolve()
    try:
        server = LocalOSS(root, args.buckets, creds, region=args.region, host=args.host,
                          port=args.port, public_read=args.public_read).start()
    except ValueError as exc:
        print(f"local-oss: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:
        print(f"local-oss: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_OSERR
    try:
        urls = ", ".join(f"{server.endpoint}/{b}/" for b in args.buckets)
        print(f"local-oss: serving bucket(s) {', '.join(args.buckets)} at {urls} (root {root})",
              flush=True)
        from ossync.localoss.signers import EXTRA_HINT, INDEPENDENT

        if not INDEPENDENT:
            print(f"local-oss: note: {EXTRA_HINT}", flush=True)
        _wait_for_signal()
    finally:
        server.stop()
    return 0


def _wait_for_signal() -> None:
    """Block until SIGTERM or SIGINT; the handlers only set an event."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
