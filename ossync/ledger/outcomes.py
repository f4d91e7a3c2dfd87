"""How a claimed row ended: one value per outcome, handed to `Queue.settle`.

A worker decides; the ledger records. Naming each outcome as a value (instead of a
method per outcome) keeps the worker's contract short and lets whoever wraps the queue
(the metrics) see every ending in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from ossync.core.objects import UploadResult
from ossync.ledger.records import Content, CopyRow, Upload


@dataclass(frozen=True)
class Deferred:
    """Back to pending, due after `delay`: not settled yet, or a failure worth a retry.
    `size`/`mtime_ns`: what the file looks like now, when the worker saw it change;
    `code` names a failure in a word for the metrics (`RequestTimeout`, `EIO`);
    `by_store` says the store failed (the daemon holds uploads while it keeps failing)."""

    delay: float
    size: int | None = None
    mtime_ns: int | None = None
    error: str | None = None
    count_attempt: bool = False
    code: str | None = None
    by_store: bool = False  # the store refused or did not answer (not the file's fault)


@dataclass(frozen=True)
class Uploaded:
    """Sent and verified: record the object. With `dedupe`, bytes another worker or host
    recorded meanwhile win (`settle` returns theirs; the worker removes its own copy)."""

    result: UploadResult
    bucket: str
    sha256: str
    content_type: str
    mtime_ns: int
    content: Content | None = None  # None: the bytes sent are the file's own
    dedupe: bool = False


@dataclass(frozen=True)
class Aliased:
    """An object already holds these bytes: the row points at it (a dedupe hit)."""

    upload: Upload
    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class Settled:
    """`failed` (needs a person: `ossync retry`) or `skipped` (not for upload)."""

    state: str
    error: str | None
    attempts: int = 0


@dataclass(frozen=True)
class Vanished:
    """The file is gone: drop the row, unless an earlier upload stands."""


Outcome = Deferred | Uploaded | Aliased | Settled | Vanished


# --- a copy to a replica (`Queue`'s sibling `CopyQueue.settle_copy`) ----------------------
# `Deferred` and `Settled` end a copy as they end a row; `Vanished` forgets the copy (its
# folder no longer sends it to that replica): the row goes, nothing in the store is touched.


@dataclass(frozen=True)
class Copied:
    """Sent to the replica and verified (or an earlier attempt's object recognised)."""

    result: UploadResult
    bucket: str  # the replica's bucket, or its folder for a `local:` one


@dataclass(frozen=True)
class CopyAliased:
    """The replica already holds these bytes (another file's copy): recorded against it."""

    existing: CopyRow


CopyOutcome = Deferred | Copied | CopyAliased | Settled | Vanished
