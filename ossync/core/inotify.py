"""Wait for changes to files in one folder, without polling: Linux inotify through libc.

`FolderChanges(folder, names)` waits until one of `names` in `folder` is written,
created or moved in (`wait(timeout)`), reading every pending event at once. It holds one
file descriptor and no thread. Raises OSError where inotify is not available (then the
caller looks on a timer instead).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import struct

IN_MODIFY = 0x002
IN_CLOSE_WRITE = 0x008
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len
_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


class FolderChanges:
    def __init__(self, folder: str, names: frozenset[str]) -> None:
        libc = _lib()
        fd = int(libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC))
        if fd < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno))
        mask = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE
        if libc.inotify_add_watch(fd, os.fsencode(folder), mask) < 0:
            errno = ctypes.get_errno()
            os.close(fd)
            raise OSError(errno, os.strerror(errno), folder)
        self.fd: int | None = fd
        self.names = frozenset(os.fsencode(n) for n in names)
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)

    def wait(self, timeout: float) -> bool:
        """True once one of the names changed (every event waiting is read); False when
        `timeout` seconds passed without."""
        assert self.fd is not None, "closed"
        if not self._poll.poll(max(int(timeout * 1000), 0)):
            return False
        return self._drain()

    def _drain(self) -> bool:
        assert self.fd is not None
        hit = False
        while True:
            try:
                data = os.read(self.fd, 64 * 1024)
            except BlockingIOError:
                return hit
            offset = 0
            while offset + _HEADER.size <= len(data):
                _wd, _mask, _cookie, size = _HEADER.unpack_from(data, offset)
                name = data[offset + _HEADER.size:offset + _HEADER.size + size].rstrip(b"\0")
                hit = hit or name in self.names
                offset += _HEADER.size + size

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> FolderChanges:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
