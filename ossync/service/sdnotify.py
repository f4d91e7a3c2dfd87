"""sd_notify(3) without libsystemd: one datagram per message to `$NOTIFY_SOCKET`.

systemd passes the socket's address in `NOTIFY_SOCKET`: a file-system path, or
`@name` for the abstract namespace (a leading NUL byte on the wire). Messages
are newline-separated `KEY=VALUE` lines (`READY=1`, `STATUS=…`, `WATCHDOG=1`,
`STOPPING=1`). Without `NOTIFY_SOCKET` every call is a no-op, so the daemon
runs the same way outside systemd.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)
SEND_TIMEOUT = 2.0  # a full receive queue must not block the daemon for long


def socket_address(value: str | None) -> str | bytes | None:
    """`/run/systemd/notify` → itself; `@name` → b'\\0name'; anything else → None."""
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None  # sd_notify ignores relative addresses too (vsock is not supported here)


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """Seconds between pings (half of `WATCHDOG_USEC`), or None when no watchdog is asked for.

    `WATCHDOG_PID`, when set, must be this process: a child must not ping for its parent.
    """
    env = os.environ if env is None else env
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2_000_000 if usec > 0 else None


class Notifier:
    """Sends notifications to the service manager; does nothing when there is none."""

    def __init__(self, address: str | bytes | None) -> None:
        self.address = address
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._warned = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if env is None else env
        return cls(socket_address(env.get("NOTIFY_SOCKET")))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *lines: str) -> bool:
        """Send `KEY=VALUE` lines as one datagram; False if there is no manager or it failed."""
        if self.address is None:
            return False
        message = "\n".join(lines).encode()
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    self._sock.settimeout(SEND_TIMEOUT)
                self._sock.sendto(message, self.address)
            except OSError as exc:
                if not self._warned:  # once: a missing manager is not worth a log flood
                    log.warning("cannot notify the service manager at %s: %s",
                                self._printable(), exc.strerror or exc)
                    self._warned = True
                return False
        return True

    def _printable(self) -> str:
        if isinstance(self.address, bytes):
            return "@" + self.address[1:].decode(errors="replace")
        return str(self.address)

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *self._status(status))

    def reloading(self) -> bool:
        # MONOTONIC_USEC lets newer systemd (Type=notify-reload) match the reload it asked for.
        return self.send("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *self._status(status))

    def status(self, text: str) -> bool:
        return self.send(*self._status(text))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    @staticmethod
    def _status(text: str | None) -> list[str]:
        return [] if text is None else ["STATUS=" + " ".join(text.splitlines())]

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
