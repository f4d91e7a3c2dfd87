"""`ossync local-oss`: run the local OSS endpoint in the foreground until SIGTERM/SIGINT.

Credentials come from the same environment variables Alibaba's tools read, so a
quick start can point ossync and this server at the same keys. Every failure is one
line: 78 without credentials, 2 for an argument no server could use, 1 when the
system refuses the port, the address or the folder.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from ossync.core.credentials import Credentials
from ossync.core.textforms import printable
from ossync.localoss import LocalOSS
from ossync.localoss.store import BUCKET_NAME

EXIT_CANNOT_SERVE = 1  # as `ossync demo` on a port in use
EXIT_CONFIG = 78  # EX_CONFIG: systemd's RestartPreventExitStatus stops a restart loop
_WHOLE = re.compile(r"^\s*\+?(\d{1,5})\s*$")


def _port(text: str) -> int:
    found = _WHOLE.match(text)
    if not found or int(found.group(1)) > 65535:
        raise argparse.ArgumentTypeError(f"{printable(text)[:40]} is not a TCP port: use a "
                                         "number from 0 to 65535 (0 picks a free one)")
    return int(found.group(1))


def _bucket(text: str) -> str:
    if not BUCKET_NAME.match(text):
        raise argparse.ArgumentTypeError(f"{printable(text)[:70]} is not a bucket name "
                                         "(3-63 lower-case letters, digits and hyphens)")
    return text


def _root(text: str) -> Path:
    if "\0" in text:
        raise argparse.ArgumentTypeError("a path cannot contain a NUL byte")
    return Path(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=_root, required=True,
                        help="directory that holds the buckets (created if missing)")
    parser.add_argument("--port", type=_port, default=0, help="TCP port (0 picks a free one)")
    parser.add_argument("--bucket", action="append", required=True, dest="buckets",
                        metavar="BUCKET", type=_bucket, help="bucket to serve (repeat for more)")
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


def _start(args: argparse.Namespace, creds: Credentials, err: TextIO) -> LocalOSS | None:
    """The server, listening; None (after one line on `err`) when the system refuses."""
    root = Path(os.path.realpath(args.root))
    try:
        server = LocalOSS(root, args.buckets, creds, region=args.region, host=args.host,
                          port=args.port, public_read=args.public_read)
    except OSError as exc:
        where = printable(str(exc.filename or root))
        err.write(f"local-oss: cannot use the folder {where}: {exc.strerror or exc}; choose "
                  "another with --root\n")
        return None
    try:
        return server.start()
    except (OSError, ValueError) as exc:  # in use, not this machine's, a name that is not one
        reason = getattr(exc, "strerror", None) or exc
        err.write(f"local-oss: cannot serve on {printable(args.host)}:{args.port}: "
                  f"{printable(str(reason))}; pick another --host or --port\n")
        return None


def run(args: argparse.Namespace, stdout: TextIO | None = None,
        stderr: TextIO | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    creds = credentials_from_env()
    if creds is None:
        err.write("local-oss: set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET (and "
                  "OSS_SESSION_TOKEN for STS keys) in the environment\n")
        return EXIT_CONFIG
    stop = threading.Event()
    previous = _on_signals(stop)  # before the "serving" line: a SIGTERM right after it stops us
    try:
        server = _start(args, creds, err)
        if server is None:
            return EXIT_CANNOT_SERVE
        try:
            urls = ", ".join(f"{server.endpoint}/{b}/" for b in args.buckets)
            out.write(f"local-oss: serving bucket(s) {', '.join(args.buckets)} at {urls} "
                      f"(root {printable(str(server.root))})\n")
            out.flush()
            from ossync.localoss.signers import EXTRA_HINT, INDEPENDENT

            if not INDEPENDENT:
                out.write(f"local-oss: note: {EXTRA_HINT}\n")
                out.flush()
            while not stop.wait(0.5):
                pass
        finally:
            server.stop()
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    return 0


_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def _on_signals(stop: threading.Event) -> dict[int, _Handler]:
    """SIGTERM and SIGINT set `stop` (the handlers do nothing else); the old handlers."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
