"""Reading big files in pieces through one reusable buffer.

Reading a 2 GB file as fresh 1 MiB `bytes` objects let glibc keep whole malloc arenas
mapped in worker threads: peak RSS of one upload reached ~120 MB. One buffer per read
keeps it flat.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

CHUNK = 1 << 20


class Readable(Protocol):
    def readinto(self, buffer: bytearray, /) -> int | None: ...


def chunks(fh: Readable, size: int = CHUNK) -> Iterator[memoryview]:
    """Successive pieces of the file; each view is valid only until the next one."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    while count := fh.readinto(buffer):
        yield view[:count]
