"""What every format's stripper shares: the levels, the refusal, and the edit plan.

A stripper never rewrites a file from scratch: it reads the structure with bounded
positional reads and returns `Edit`s, byte ranges of the original replaced by other
bytes (or by nothing). The pixels are copied through untouched.
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from ossync.config.settings import STRIP_LEVELS

LEVELS = STRIP_LEVELS

Read = Callable[[int, int], bytes]  # (offset, size) -> at most size bytes


class CannotStrip(Exception):
    """The file cannot be cleaned safely at this level; it must not be sent as it is."""


def at_least(level: str, wanted: str) -> bool:
    """True when `level` removes at least what `wanted` removes."""
    return LEVELS.index(level) >= LEVELS.index(wanted)


@dataclass(frozen=True)
class Edit:
    """Bytes [start, end) of the original become `data` (b"" drops them)."""

    start: int
    end: int
    data: bytes = b""


@dataclass
class Plan:
    """The edits one format's stripper found, and what they remove (for the ledger)."""

    edits: list[Edit] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def replace(self, start: int, end: int, data: bytes = b"") -> None:
        self.edits.append(Edit(start, end, data))

    def note(self, what: str) -> None:
        if what not in self.removed:
            self.removed.append(what)

    def merge(self, other: Plan, shift: int = 0) -> None:
        """Take another plan's edits (of a block that starts `shift` bytes in)."""
        self.edits += [Edit(e.start + shift, e.end + shift, e.data) for e in other.edits]
        for what in other.removed:
            self.note(what)

    def sorted_edits(self) -> list[Edit]:
        edits = sorted(self.edits, key=lambda e: (e.start, e.end))
        for before, after in itertools.pairwise(edits):
            if after.start < before.end:
                raise CannotStrip(f"internal: overlapping edits at {after.start}")
        return edits


def file_reader(fh: BinaryIO | io.BufferedReader) -> tuple[Read, int]:
    """Positional reads that never go past the end, and the file's size."""
    size = os.fstat(fh.fileno()).st_size

    def read(offset: int, n: int) -> bytes:
        if offset < 0 or n <= 0 or offset >= size:
            return b""
        fh.seek(offset)
        return fh.read(n)

    return read, size


def bytes_reader(data: bytes) -> Read:
    return lambda offset, n: data[offset : offset + n] if offset >= 0 and n > 0 else b""


def apply(data: bytes, edits: list[Edit]) -> bytes:
    """The edits applied to an in-memory block (non-overlapping)."""
    out = bytearray()
    pos = 0
    for edit in sorted(edits, key=lambda e: e.start):
        out += data[pos : edit.start]
        out += edit.data
        pos = edit.end
    out += data[pos:]
    return bytes(out)


def exact(read: Read, offset: int, n: int, what: str) -> bytes:
    """Exactly n bytes at offset, or CannotStrip naming what was cut short."""
    data = read(offset, n)
    if len(data) != n:
        raise CannotStrip(f"{what} is cut short (the file ends at a bad offset)")
    return data
