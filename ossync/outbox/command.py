"""`on_upload`: a program run for every recorded upload, as one more delivery endpoint.

Run without a shell: the configured list of arguments with its placeholders filled
(`ossync.config.events.fill`), each value one argument whatever it holds (`$(…)`, `;`,
spaces and newlines are text). The event's JSON (the webhook body) comes on its
standard input. It gets a small environment of its own (PATH, HOME, the locale and
`OSSYNC_EVENT_ID`/`OSSYNC_EVENT_TYPE`), never the daemon's: the store's keys stay there.
It runs in a session of its own, in `/`, for at most `on_upload_timeout`; then (or when
the daemon stops) its whole process group is killed. Its output is logged, one line per
line, printable and with secrets masked (the daemon's log formatter), up to
`MAX_OUTPUT` bytes. Exit status 0 means delivered; anything else is tried again.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import subprocess
import threading
import time
from contextlib import suppress

from ossync.config import CommandHookConfig
from ossync.config.events import ON_UPLOAD, cursor_name, fill
from ossync.core.textforms import os_path, printable
from ossync.ledger.events import FILE_UPLOADED
from ossync.ledger.records import Event
from ossync.outbox.webhook import body_of

log = logging.getLogger("ossync.outbox.command")
MAX_OUTPUT = 64 * 1024  # bytes of output logged per run; the rest is read and dropped
MAX_LINE = 1000  # characters of one logged line
KEPT_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME", "TMPDIR")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL


def values_of(event: Event) -> dict[str, str]:
    """What the placeholders stand for; `path` in the OS form (the file's real name)."""
    data = json.loads(event.data)
    found = {name: "" if data.get(name) is None else str(data[name])
             for name in ("url", "key", "sha256", "folder", "size", "bucket", "host",
                          "content_type")}
    found["path"] = os_path(str(data.get("path") or ""))
    found["id"] = str(event.id)
    return found


class CommandHook:
    """Each host runs it for its own uploads (the files are its own): a cursor per host,
    and the uploads other hosts of a shared ledger recorded are passed over."""

    def __init__(self, config: CommandHookConfig, host: str) -> None:
        self.config = config
        self.host = host
        self.name = ON_UPLOAD
        self.cursor = cursor_name(ON_UPLOAD, host)

    @property
    def timeout(self) -> float:
        return self.config.timeout

    def wants(self, event: Event) -> bool:
        return event.type == FILE_UPLOADED.name and event.host == self.host

    def deliver(self, event: Event, stop: threading.Event) -> str | None:
        argv = fill(self.config.argv, values_of(event))
        env = {name: os.environ[name] for name in KEPT_ENV if name in os.environ}
        env.setdefault("PATH", DEFAULT_PATH)
        env.update(OSSYNC_EVENT_ID=str(event.id), OSSYNC_EVENT_TYPE=event.type)
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, env=env, cwd="/",
                                    start_new_session=True, close_fds=True)
        except OSError as exc:
            return printable(f"cannot run {argv[0]}: {exc.strerror or exc}")
        with suppress(OSError):  # a program that does not read its input is fine
            assert proc.stdin is not None
            proc.stdin.write(body_of(event))
            proc.stdin.close()
        ended = _follow(proc, time.monotonic() + self.config.timeout, stop, event.id)
        if ended is not None:
            return ended
        code = proc.wait()
        if code == 0:
            return None
        if code < 0:
            return f"killed by signal {-code}"
        return f"exit status {code}"

    def close(self) -> None:
        pass


def _follow(proc: subprocess.Popen[bytes], deadline: float, stop: threading.Event,
            event_id: int) -> str | None:
    """Log its output until it closes; kill the group at the deadline or on stop (and say
    why), else None once the output ended."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        pending, logged = b"", 0
        while True:
            if stop.is_set():
                _kill(proc)
                return "stopped with the daemon (it runs again at the next start)"
            left = deadline - time.monotonic()
            if left <= 0:
                _kill(proc)
                return "killed after on_upload_timeout"
            if not selector.select(min(left, 0.5)):
                if proc.poll() is not None:
                    break  # it ended; a child of its own that keeps the pipe is its business
                continue
            chunk = os.read(proc.stdout.fileno(), 8192)
            if not chunk:
                break
            if logged < MAX_OUTPUT:
                pending += chunk[:MAX_OUTPUT - logged]
                logged += len(chunk)
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    _log_line(line, event_id)
    if pending:
        _log_line(pending, event_id)
    if logged > MAX_OUTPUT:
        log.info("%s (event %d): %d more bytes of output not logged", ON_UPLOAD, event_id,
                 logged - MAX_OUTPUT)
    proc.stdout.close()
    return None


def _log_line(line: bytes, event_id: int) -> None:
    text = line.decode("utf-8", "replace").rstrip("\r")
    log.info("%s (event %d): %s", ON_UPLOAD, event_id, printable(text[:MAX_LINE]))


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """The whole process group: a script's children go with it."""
    for sig, grace in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, 10.0)):
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(grace)
            break
        except subprocess.TimeoutExpired:
            continue
    if proc.stdout is not None:
        proc.stdout.close()
