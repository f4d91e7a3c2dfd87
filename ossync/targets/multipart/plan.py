"""How a big file is cut into parts, and what is remembered about them.

`plan_parts` picks the part size: the configured one, raised to the store's minimum
and to what fits the file into 10,000 parts (rounded up to whole MiB). A `Journal`
remembers an upload in progress as a `Checkpoint` of `Part`s (plain values in
`ossync.core.objects`, which the ledger stores), so that a later attempt (after a
kill -9, a reboot, a dropped link) sends only the parts the store does not already
hold.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from ossync.core.limits import (
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_CONCURRENCY,
    DEFAULT_PART_SIZE,
    MAX_PARTS,
    MIB,
    SINGLE_REQUEST_MAX,
)
from ossync.core.objects import Checkpoint, Part


@dataclass(frozen=True)
class MultipartSettings:
    """`multipart_threshold`, `part_size` (None: automatic) and `part_concurrency`."""

    threshold: int = DEFAULT_MULTIPART_THRESHOLD
    part_size: int | None = None
    concurrency: int = DEFAULT_PART_CONCURRENCY


@dataclass(frozen=True)
class PartPlan:
    size: int
    part_size: int

    @property
    def count(self) -> int:
        return max(1, -(-self.size // self.part_size))

    def span(self, number: int) -> tuple[int, int]:
        """(offset, length) of part `number` (1-based)."""
        offset = (number - 1) * self.part_size
        return offset, min(self.part_size, self.size - offset)


def plan_parts(size: int, preferred: int | None, minimum: int) -> PartPlan:
    """Parts of `preferred` bytes (default 8 MiB), at least `minimum`, few enough for
    10,000 parts; raises ValueError when even 5 GiB parts cannot hold the file."""
    part = max(preferred or DEFAULT_PART_SIZE, minimum)
    needed = -(-size // MAX_PARTS)
    if part < needed:
        part = -(-needed // MIB) * MIB
    if part > SINGLE_REQUEST_MAX:
        raise ValueError(f"{size} bytes do not fit in {MAX_PARTS} parts of at most 5GiB")
    return PartPlan(size, part)


class Journal(Protocol):
    """Where a multipart upload writes down its progress as it goes, and learns whether
    to go on. `sha256` names the bytes about to be sent: a checkpoint for other bytes
    is stale. `stop` is the owner's stop event (None: nothing stops it): once set, no
    new part is sent, what is done is kept, and a part's retry wait ends at once."""

    sha256: str
    stop: threading.Event | None

    def load(self) -> Checkpoint | None:
        """What an earlier attempt left for this file, if anything (maybe stale)."""
        ...

    def begin(self, key: str, size: int, part_size: int) -> None:
        """Before InitiateMultipartUpload: forget any earlier checkpoint, note the key."""
        ...

    def started(self, upload_id: str) -> None: ...

    def part_done(self, part: Part) -> None: ...

    def end(self) -> None:
        """The upload completed or was aborted: nothing to resume."""
        ...
