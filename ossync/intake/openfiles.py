"""Is some local process still writing this file? Read from /proc, where we may.

Samba, FTP servers and scanners' helper programs run on this host, so a file
they hold open for writing shows up in /proc/PID/fdinfo with a write mode.
Files written by other hosts (NFS clients) are invisible here: for them only
the settle period counts. One scan serves every check for `max_age` seconds.
"""

from __future__ import annotations

import os
import threading
import time

_WRITE_MODES = os.O_WRONLY | os.O_RDWR


class OpenWriters:
    def __init__(self, roots: list[str], max_age: float = 1.0) -> None:
        self.set_roots(roots)
        self.max_age = max_age
        self._lock = threading.Lock()
        self._taken = 0.0
        self._paths: frozenset[str] = frozenset()

    def set_roots(self, roots: list[str]) -> None:
        self.roots = tuple(os.path.realpath(r).rstrip("/") + "/" for r in roots)

    def is_open_for_writing(self, path: str) -> bool:
        with self._lock:
            if time.monotonic() - self._taken > self.max_age:
                self._paths = frozenset(self._scan())
                self._taken = time.monotonic()
            return os.path.realpath(path) in self._paths

    def _scan(self) -> set[str]:
        found: set[str] = set()
        me = str(os.getpid())
        try:
            pids = [p for p in os.listdir("/proc") if p.isdigit() and p != me]
        except OSError:
            return found
        for pid in pids:
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue  # gone, or not ours to read
            for fd in fds:
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith(self.roots) and _writing(pid, fd):
                    found.add(target)
        return found


def _writing(pid: str, fd: str) -> bool:
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}") as info:
            for line in info:
                if line.startswith("flags:"):
                    return bool(int(line.split()[1], 8) & _WRITE_MODES)
    except (OSError, ValueError, IndexError):
        pass
    return False
