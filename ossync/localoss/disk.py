"""The write discipline every stored file follows: spool to a temp file and fsync, then
rename into place, then fsync the folder, so a crash leaves the old state or the new one.

`Spool` also skips runs of zeros (a seek instead of a write), so a test that uploads a
mostly-empty multi-gigabyte file leaves a sparse file behind instead of filling the disk;
`JoinedFiles` reads such files back without reading their holes (the kernel would zero
a page-cache page for every 4 KiB of them).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ossync.core.crc64 import Crc64

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


class Spool:
    """A temp file being filled with an upload, hashing (MD5, CRC-64) as it goes."""

    def __init__(self, directory: Path) -> None:
        fd, name = tempfile.mkstemp(dir=directory, suffix=".part")
        self.path = Path(name)
        self.file = os.fdopen(fd, "wb")
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.crc = Crc64()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.md5.update(data)
        self.crc.update(data)
        if data == bytes(len(data)):
            self.file.seek(len(data), os.SEEK_CUR)  # leave a hole: reads back as zeros
        else:
            self.file.write(data)
        self.size += len(data)
        return len(data)

    def finish(self) -> None:
        self.file.truncate(self.size)  # a trailing hole still counts towards the size
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()

    def discard(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)

    @property
    def etag(self) -> str:
        return f'"{self.md5.hexdigest().upper()}"'


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: all of it or none of it, even across a crash."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make the renames and unlinks in a folder durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JoinedFiles(io.RawIOBase):
    """Files read one after another as one stream (a multipart object's parts), holes
    answered with zeros without reading them. The first file is opened at once, so it
    stays readable if it is deleted meanwhile; the others are opened when reached."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = list(reversed(paths))
        self.fd: int | None = None
        self.pos = self.size = 0
        self._next()

    def _next(self) -> bool:
        self._close_fd()
        if not self.paths:
            return False
        self.fd = os.open(self.paths.pop(), os.O_RDONLY)
        self.pos, self.size = 0, os.fstat(self.fd).st_size
        return True

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        while self.fd is not None:
            if self.pos < self.size:
                n = self._read(self.fd, view)
                self.pos += n
                return n
            if not self._next():
                break
        return 0

    def _read(self, fd: int, view: memoryview) -> int:
        try:
            data = os.lseek(fd, self.pos, os.SEEK_DATA)
        except OSError:  # ENXIO: nothing but a hole up to the end
            data = self.size
        if data > self.pos:
            n = min(len(view), data - self.pos)
            view[:n] = bytes(n)
            return n
        hole = os.lseek(fd, self.pos, os.SEEK_HOLE)
        return os.preadv(fd, [view[: min(len(view), hole - self.pos)]], self.pos)

    def _close_fd(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def close(self) -> None:
        self._close_fd()
        self.paths.clear()
        super().close()
