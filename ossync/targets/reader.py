"""One way to hand a file's bytes to an HTTP request: a slice of an open file, read in
the sizes the sender asks for, hashed as it goes and paced by `max_bandwidth`.

PostObject forms, S3 PUTs and every part of a multipart upload send their file bytes
through `SliceReader`, so the CRC-64 (and MD5) of what actually left, the check that
the file did not shrink or grow meanwhile, and the bandwidth cap live in one place.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO, cast

from ossync.core.chunks import CHUNK, chunks
from ossync.core.crc64 import Crc64
from ossync.core.objects import FileChanged
from ossync.core.throttle import Throttle


def open_for_sending(path: Path) -> BinaryIO:
    """The file opened unbuffered: `SliceReader` reads in the sender's block sizes, so a
    buffer in between would only copy, and cost system calls to set up."""
    return cast(BinaryIO, open(path, "rb", buffering=0))


class SliceReader:
    """Exactly `length` bytes of `fh` from where it stands; FileChanged if the file runs
    short, or (with `whole=True`, the slice being the whole file) turns out longer."""

    def __init__(self, fh: BinaryIO, length: int, *, throttle: Throttle | None = None,
                 md5: bool = False, whole: bool = False) -> None:
        self._fh = fh
        self.size = length
        self.sent = 0
        self.crc = Crc64()
        self.md5 = hashlib.md5(usedforsecurity=False) if md5 else None
        self._throttle = throttle
        self._whole = whole

    def __len__(self) -> int:
        return self.size

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.sent
        if left <= 0:
            if self._whole and self._fh.read(1):
                raise FileChanged(f"file grew while uploading (more than {self.size} bytes)")
            return b""
        want = min(n if n and n > 0 else CHUNK, left)
        if self._throttle is not None:
            self._throttle.take(want)
        chunk = self._fh.read(want)
        if not chunk:
            raise FileChanged(f"file shrank while uploading ({self.sent} of {self.size} "
                              "bytes sent)")
        self.sent += len(chunk)
        self.crc.update(chunk)
        if self.md5 is not None:
            self.md5.update(chunk)
        return chunk


def digest_slice(fh: BinaryIO, offset: int, length: int) -> tuple[str, int]:
    """(MD5 hex, CRC-64) of `length` bytes at `offset`, read without sending; FileChanged
    if the file is shorter. For Content-MD5 before a part goes, and to recognise a part
    the store already holds."""
    fh.seek(offset)
    md5, crc, got = hashlib.md5(usedforsecurity=False), Crc64(), 0
    for chunk in chunks(_Limited(fh, length)):
        md5.update(chunk)
        crc.update(chunk)
        got += len(chunk)
    if got != length:
        raise FileChanged(f"file shrank (part at {offset} has {got} of {length} bytes)")
    fh.seek(offset)
    return md5.hexdigest(), crc.value


class _Limited:
    """`readinto` that stops after `left` bytes."""

    def __init__(self, fh: BinaryIO, left: int) -> None:
        self._fh, self._left = fh, left

    def readinto(self, buffer: bytearray, /) -> int:
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: min(len(buffer), self._left)]
        count = self._fh.readinto(view) or 0  # type: ignore[attr-defined]
        self._left -= count
        return count
