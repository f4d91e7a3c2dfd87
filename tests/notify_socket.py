"""A test-owned systemd notify socket: what a daemon tells systemd, read back."""

from __future__ import annotations

import socket
import threading
import time

from tests.daemon_helpers import wait_for


class NotifySocket:
    """A service manager's notification socket: records every datagram with its arrival."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(b"\0" + address[1:].encode() if address.startswith("@") else address)
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, list[tuple[str, str]]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="test-notify-reader")
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            lines = [line.split("=", 1) for line in data.decode().splitlines() if "=" in line]
            self.messages.append((time.monotonic(), [(k, v) for k, v in lines]))

    def times(self, key: str, value: str | None = None) -> list[float]:
        return [t for t, fields in list(self.messages)
                if any(k == key and (value is None or v == value) for k, v in fields)]

    def values(self, key: str) -> list[str]:
        return [v for _, fields in list(self.messages) for k, v in fields if k == key]

    def wait(self, key: str, value: str | None = None, timeout: float = 30,
             after: float = 0.0) -> float:
        found = wait_for(lambda: [t for t in self.times(key, value) if t > after], timeout,
                         f"{key}={value or '…'} on {self.address}", step=0.02)
        return found[0]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
