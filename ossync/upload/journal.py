"""A multipart upload's progress kept in the ledger, under the path being sent.

The engine (`ossync.targets.multipart.engine`) writes the upload id and each part as
the store confirms it; after a kill -9, a reboot or a dropped link the next attempt
for that path finds them here and sends only the rest. `sha256` names the bytes being
sent: a checkpoint for other bytes (the file changed) is stale, and is aborted.
"""

from __future__ import annotations

import threading

from ossync.core.objects import Checkpoint, Part
from ossync.ledger import Checkpoints


class LedgerJournal:
    def __init__(self, ledger: Checkpoints, *, host: str, path: str, bucket: str, sha256: str,
                 stop: threading.Event | None = None, destination: str = "") -> None:
        self.ledger = ledger
        self.destination = destination  # "" the primary, else a replica's name
        self.host, self.path, self.bucket = host, path, bucket
        self.sha256 = sha256
        self.stop = stop  # the daemon's: the engine stops between parts, and retries
        self._id: int | None = None

    def load(self) -> Checkpoint | None:
        found = self.ledger.multipart_of(self.host, self.path, self.destination)
        if found is None:
            return None
        row, parts = found
        self._id = row.id
        return Checkpoint(row.key, row.upload_id, row.sha256, row.size, row.part_size,
                          {p.number: p for p in parts})

    def begin(self, key: str, size: int, part_size: int) -> None:
        self._id = self.ledger.multipart_begin(host=self.host, path=self.path,
                                               bucket=self.bucket, key=key,
                                               sha256=self.sha256, size=size,
                                               part_size=part_size,
                                               destination=self.destination)

    def started(self, upload_id: str) -> None:
        self.ledger.multipart_started(self._current(), upload_id)

    def part_done(self, part: Part) -> None:
        self.ledger.multipart_part_done(self._current(), part)

    def end(self) -> None:
        if self._id is not None:
            self.ledger.multipart_end(self._id)
            self._id = None

    def _current(self) -> int:
        if self._id is None:
            raise RuntimeError("no multipart checkpoint begun")  # the engine's order
        return self._id
