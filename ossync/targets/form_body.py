"""A multipart/form-data body that streams the file instead of holding it in memory.

requests' own `files=` encoder reads the whole file into memory first; this
object gives requests a `len()` (so it sends Content-Length, which PostObject
needs) and hands out the file in chunks while computing its CRC-64.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import BinaryIO

from ossync.core.crc64 import Crc64
from ossync.targets import FileChanged


def _quote_field(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "")


class MultipartFileBody:
    """Form fields first, then the file as the last part (OSS requires it last)."""

    def __init__(self, fields: Mapping[str, str], fileobj: BinaryIO, size: int,
                 content_type: str, filename: str = "upload") -> None:
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
        self._file = fileobj
        self._size = size
        self._sent_file = 0
        self._pos = 0
        self.crc = Crc64()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self._head) + self._size + len(self._tail)

    def read(self, size: int = -1) -> bytes:
        size = 1 << 20 if size is None or size < 0 else size
        if self._pos < len(self._head):
            chunk = bytes(self._head[self._pos : self._pos + size])
            self._pos += len(chunk)
            return chunk
        if self._sent_file < self._size:
            chunk = self._file.read(min(size, self._size - self._sent_file))
            if not chunk:
                raise FileChanged(f"file shrank while uploading ({self._sent_file} of "
                                  f"{self._size} bytes sent)")
            self._sent_file += len(chunk)
            self.crc.update(chunk)
            return chunk
        offset = self._pos - len(self._head)
        if offset == 0 and self._file.read(1):
            raise FileChanged(f"file grew while uploading (more than {self._size} bytes)")
        chunk = bytes(self._tail[offset : offset + size])
        self._pos += len(chunk)
        return chunk
