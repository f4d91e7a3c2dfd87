"""`ossync demo`: the daemon end to end on its embedded default, no cloud account needed.

Starts the bundled local OSS endpoint and the daemon on a drop folder, drops a
sample photo in, waits until the ledger records it, fetches its URL and checks
that the same bytes come back. Then it keeps running for more files (or exits
with `--once`).
"""

from __future__ import annotations

import errno
import logging
import shutil
import threading
import time
from importlib.resources import files
from pathlib import Path
from typing import TextIO

import requests

from ossync.config import Config, parse_config
from ossync.core.credentials import Credentials
from ossync.core.errors import OssyncError
from ossync.core.textforms import printable
from ossync.ledger import Ledger
from ossync.localoss import LocalOSS
from ossync.service.daemon import Daemon

log = logging.getLogger("ossync.cli.demo")
DEMO_BUCKET = "demo-bucket"
# Demo-only credentials for the local endpoint; they open nothing anywhere else.
DEMO_CREDENTIALS = Credentials("demo-access-key-id", "demo-access-key-secret")
WAIT_SECONDS = 60.0


def demo_config(workdir: Path, endpoint: str) -> Config:
    creds = DEMO_CREDENTIALS
    return parse_config({
        "oss": {"endpoint": endpoint, "region": "cn-hangzhou", "bucket": DEMO_BUCKET,
                "access_key_id": creds.access_key_id,
                "access_key_secret": creds.access_key_secret},
        "ledger": "ledger.db",
        "settle_seconds": 1,
        "watch": [{"path": "drop", "label": "drop", "create": True}],
    }, base=workdir, env={})


def _check_sample(config: Config, daemon: Daemon, out: TextIO, outcome: list[bool]) -> None:
    """Drop the sample photo, wait for its ledger row, fetch its URL, compare bytes."""
    sample = files("ossync.cli").joinpath("sample.jpg").read_bytes()
    target = config.watch[0].path / f"sample-{time.strftime('%H%M%S')}.jpg"
    tmp = target.with_name("." + target.name + ".part")
    tmp.write_bytes(sample)
    tmp.rename(target)  # how careful writers deliver: temp name, then rename
    deadline = time.monotonic() + WAIT_SECONDS
    with Ledger.open(config.ledger, readonly=True) as ledger:
        while time.monotonic() < deadline and not daemon.stop_event.is_set():
            upload = ledger.item(str(target))
            if upload is not None and upload.state == "uploaded" and upload.url:
                served = requests.get(upload.url, timeout=10).content
                same = served == sample
                out.write(f"demo: {target.name} -> {upload.url}\n"
                          f"demo: the URL served {len(served)} bytes, "
                          f"{'identical to the file' if same else 'DIFFERENT from the file'}\n")
                out.flush()
                outcome.append(same)
                return
            time.sleep(0.2)
    out.write("demo: the sample was not uploaded in time (see the log above)\n")
    outcome.append(False)


def _prepare(workdir: Path, once: bool) -> Path:
    """The demo's folder, made (and with `--once` cleaned, so the check really uploads)."""
    workdir = workdir.resolve()
    try:
        if once:
            shutil.rmtree(workdir / "oss", ignore_errors=True)
            for stale in workdir.glob("ledger.db*"):
                stale.unlink()
        workdir.mkdir(parents=True, exist_ok=True)
        return workdir
    except OSError as exc:
        raise _folder_error(workdir, exc) from None


def _folder_error(workdir: Path, exc: OSError) -> OssyncError:
    where = f" ({printable(str(exc.filename))})" if exc.filename else ""
    return OssyncError(f"cannot use {printable(str(workdir))} for the demo: "
                       f"{exc.strerror or exc}{where}; choose another folder with --dir")


def _serve(workdir: Path, port: int) -> LocalOSS:
    """The local endpoint, listening; a port or folder it cannot have is one line."""
    try:
        server = LocalOSS(workdir / "oss", [DEMO_BUCKET], DEMO_CREDENTIALS, port=port,
                          public_read=True)
    except OSError as exc:
        raise _folder_error(workdir, exc) from None
    try:
        return server.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise OssyncError(f"port {port} is in use; pick another with --port "
                              "(0 picks a free one)") from None
        raise OssyncError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}; pick "
                          "another port with --port (0 picks a free one)") from None


def run_demo(workdir: Path, port: int, once: bool, out: TextIO) -> int:
    workdir = _prepare(workdir, once)
    outcome: list[bool] = []
    server = _serve(workdir, port)
    try:
        config = demo_config(workdir, server.endpoint)
        holder: list[Daemon] = []

        def ready() -> None:
            out.write(f"demo: local OSS endpoint at {server.endpoint}/{DEMO_BUCKET}/ "
                      f"(objects under {printable(str(workdir / 'oss'))})\n"
                      f"demo: watching {printable(str(config.watch[0].path))}; "
                      f"ledger {printable(str(config.ledger))}\n")
            from ossync.localoss.signers import EXTRA_HINT, INDEPENDENT

            if not INDEPENDENT:
                out.write(f"demo: note: {EXTRA_HINT}\n")
            out.flush()

            def check() -> None:
                _check_sample(config, holder[0], out, outcome)
                if once:
                    holder[0].stop_event.set()
                else:
                    out.write(f"demo: drop more images into "
                              f"{printable(str(config.watch[0].path))} (Ctrl-C to stop)\n")
                    out.flush()

            threading.Thread(target=check, name="ossync-demo-check", daemon=True).start()

        daemon = Daemon(config, on_ready=ready)
        holder.append(daemon)
        daemon.run()
    finally:
        server.stop()
    return 0 if outcome and all(outcome) else 1
