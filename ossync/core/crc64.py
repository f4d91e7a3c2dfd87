"""CRC-64/XZ (ECMA-182, reflected): the checksum OSS returns as x-oss-hash-crc64ecma.

Backed by anycrc's C code: a pure-Python loop would cap uploads at a few MB/s.
"""

from __future__ import annotations

import anycrc

_MODEL = anycrc.Model("CRC64-XZ")


class Crc64:
    """Running CRC-64 over data fed in pieces (as a file is streamed out)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if data:
            self.value = int(_MODEL.calc(data, self.value))


def crc64(data: bytes | bytearray | memoryview) -> int:
    """CRC-64 of one buffer; `crc64(b"123456789") == 11051210869376104954`."""
    c = Crc64()
    c.update(data)
    return c.value
