"""A multipart/form-data body that streams the file instead of holding it in memory.

requests' own `files=` encoder reads the whole file into memory first; this
object gives requests a `len()` (so it sends Content-Length, which PostObject
needs) and hands out the file in chunks through a `SliceReader` (CRC-64, MD5 if
asked, the bandwidth cap, and the check that the file did not change size).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import BinaryIO

from ossync.core.crc64 import Crc64
from ossync.core.throttle import Throttle
from ossync.targets.reader import SliceReader


def _quote_field(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "")


class MultipartFileBody:
    """Form fields first, then the file as the last part (OSS requires it last)."""

    def __init__(self, fields: Mapping[str, str], fileobj: BinaryIO, size: int,
                 content_type: str, filename: str = "upload", *,
                 throttle: Throttle | None = None, md5: bool = False) -> None:
        self.boundary = uuid.uuid4().hex
        head = b"".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{_quote_field(k)}"'
            f"\r\n\r\n".encode() + v.encode() + b"\r\n"
            for k, v in fields.items()
        )
        head += (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{_quote_field(filename)}"\r\nContent-Type: {content_type}\r\n\r\n'
        ).encode()
        self._head = memoryview(head)
        self._tail = memoryview(f"\r\n--{self.boundary}--\r\n".encode())
        self.file = SliceReader(fileobj, size, throttle=throttle, md5=md5, whole=True)
        self._pos = 0  # of head and tail; the file part counts in `self.file`

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def crc(self) -> Crc64:
        """The CRC-64 of the file bytes sent so far."""
        return self.file.crc

    def __len__(self) -> int:
        return len(self._head) + self.file.size + len(self._tail)

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes: the form fields, the file and the closing boundary joined
        when they fit, so a small photo goes out in one write, not three."""
        size = 1 << 20 if size is None or size < 0 else size
        pieces = []
        while size > 0 and (piece := self._next(size)):
            pieces.append(piece)
            size -= len(piece)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def _next(self, size: int) -> bytes:
        if self._pos < len(self._head):
            chunk = bytes(self._head[self._pos : self._pos + size])
            self._pos += len(chunk)
            return chunk
        if self._pos == len(self._head):
            chunk = self.file.read(size)
            if chunk:
                return chunk
        offset = self._pos - len(self._head)
        chunk = bytes(self._tail[offset : offset + size])
        self._pos += len(chunk)
        return chunk
