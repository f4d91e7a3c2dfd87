"""The ledger's contracts, each sized by its caller.

One backend (SQLite, PostgreSQL) implements them all, with the same shared SQL; each
caller sees only the contract it needs, so what it may do is readable at once:

| contract      | callers                                   | what for                       |
|---------------|-------------------------------------------|--------------------------------|
| `Intake`      | intake and scanner stages                 | note what the folders hold     |
| `Queue`       | upload workers                            | take a row, say how it ended   |
| `Upkeep`      | the daemon's main loop                    | leases, crashes, wake-ups      |
| `Checkpoints` | multipart journal, the sweeper            | resume big files               |
| `Catalog`     | CLI, HTTP API, Python API (read-only)     | paths, keys, URLs, status      |
| `Requeue`     | `ossync retry`, the status page's Retry   | failed files back to the queue |
| `Recorder`    | `ossync put`                              | uploads made outside the queue |
| `Copier`      | `ossync ledger copy`, `ledger rebuild`, `verify` | whole tables, by id     |
| `Feed`        | `/v1/events`, `ossync events`, status     | events in order, and waiting   |
| `Outbox`      | webhook and command-hook senders, holds   | cursors, events of the daemon  |
| `Fanout`      | upload workers (with replicas)            | share a file read once         |
| `CopyQueue`   | replica workers                           | take a copy, say how it ended  |
| `Backfill`    | the backfill stage, the daemon at start   | replicas added and removed     |
| `CopyCatalog` | CLI, HTTP API, metrics (read-only)        | each file's copies             |
| `AppUploads`  | `POST /v1/uploads`, callbacks, confirms   | forms given to apps, recorded  |

The queue owns its clock and its wake-up: callers say "give me a due row" and how it
ended, never "what is due when", so no caller sleeps on stale facts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Protocol

from ossync.core.objects import Part, UploadResult
from ossync.core.units import Lifetime
from ossync.ledger.bell import Bell
from ossync.ledger.events import NewEvent
from ossync.ledger.outcomes import CopyOutcome, Outcome
from ossync.ledger.records import (
    Copy,
    CopyFacts,
    CopyRow,
    Delivery,
    DirectRecord,
    Event,
    FileRow,
    Issued,
    Item,
    MultipartRow,
    Sighting,
    Status,
    Upload,
)


class Intake(Protocol):
    def note(self, sightings: Iterable[Sighting]) -> int:
        """Record candidates in one transaction; returns how many are (re)queued. A new
        path, or a known one whose size or mtime changed, is due after its settle time;
        wakes idle workers."""
        ...

    def known_unchanged(self, path: str, size: int, mtime_ns: int) -> bool:
        """This exact path, size and mtime is known (the scan's fast path)."""
        ...


class Queue(Protocol):
    host: str  # whose rows: this daemon's name

    def next_row(self, stop: threading.Event) -> FileRow | None:
        """A due row, claimed under a lease; or None after sleeping until one may be due,
        new work is noted, or `stop`. No wake-up is ever lost."""
        ...

    def notify(self) -> None:
        """Something may be due: wake every idle worker."""
        ...

    def claim_content(self, bucket: str, sha256: str, *, durable: bool = False) -> bool:
        """One sender per content: False while another worker sends these bytes.
        `durable` also holds them against other hosts (for big files, where a second
        upload costs more than a commit)."""
        ...

    def release_content(self, bucket: str, sha256: str) -> None: ...

    def intend(self, row: FileRow, *, sha256: str, key: str,
               tagging: str | None = None) -> None:
        """Write the key down before sending, for a key a retry could not work out again
        (an upload date, a fallback name); with `tagging`, after sending: the object is
        stored and owes these tags, which the next claim sets instead of sending again."""
        ...

    def stored(self, bucket: str, sha256: str, sent_sha256: str | None = None
               ) -> Upload | None:
        """The object already holding these bytes (content dedupe)."""
        ...

    def upload_by_id(self, upload_id: int) -> Upload | None: ...

    def settle(self, row: FileRow, outcome: Outcome) -> Upload | None:
        """Record how the row ended (see ossync.ledger.outcomes), in one transaction;
        for `Uploaded`, the upload that now holds the row. A verdict on the version that
        was claimed never buries a newer one noted meanwhile."""
        ...


class WorkQueue(Intake, Queue, Protocol):
    """The daemon's stages' view: intake notes rows, workers take and settle them (the
    ledger itself, or the metrics' wrapper around it)."""


class Upkeep(Protocol):
    location: str
    lease: float

    def reset_interrupted(self, keep: Collection[int] = (),
                          keep_copies: Collection[int] = ()) -> int:
        """Rows and copies this host left claimed back to pending, but those in `keep` and
        `keep_copies` (in hand)."""
        ...

    def renew_leases(self) -> int: ...

    def data_version(self) -> int:
        """Changes when another connection commits (`ossync retry`, say)."""
        ...

    def listen(self, wake: Callable[[], None], stop: threading.Event) -> None:
        """Until `stop`: `wake` when another host makes a row of this host's groups due."""
        ...

    def close(self) -> None: ...


class Checkpoints(Protocol):
    """One checkpoint per host, path and destination ("" the primary, else a replica)."""

    def multipart_of(self, host: str, path: str, destination: str = ""
                     ) -> tuple[MultipartRow, list[Part]] | None:
        ...

    def multipart_begin(self, *, host: str, path: str, bucket: str, key: str, sha256: str,
                        size: int, part_size: int, destination: str = "") -> int: ...

    def multipart_started(self, record_id: int, upload_id: str) -> None: ...

    def multipart_part_done(self, record_id: int, part: Part) -> None: ...

    def multipart_end(self, record_id: int) -> None: ...

    def multipart_rows(self, host: str) -> list[MultipartRow]: ...


class Catalog(Protocol):
    host: str

    def item(self, path: str, host: str | None = None) -> Item | None: ...

    def items_of(self, *, sha256: str | None = None, key: str | None = None) -> list[Item]:
        ...

    def iter_items(self, *, since: datetime | None = None, until: datetime | None = None,
                   folder: str | None = None, state: str | None = "uploaded",
                   limit: int | None = None) -> Iterator[Item]: ...

    def folder_under(self, directory: str) -> str | None: ...

    def status(self) -> Status: ...

    def counts(self) -> dict[str, int]: ...

    def find(self, *, sha256: str | None = None, key: str | None = None,
             path: str | None = None, host: str | None = None) -> list[Item]: ...

    def url_for(self, path: str, *, signed: bool = False, expires: Lifetime | None = None,
                process: str | None = None, host: str | None = None) -> str | None: ...


class Requeue(Protocol):
    def retry_failed(self, paths: list[str] | None = None) -> int: ...


class Recorder(Protocol):
    host: str

    def stored(self, bucket: str, sha256: str, sent_sha256: str | None = None
               ) -> Upload | None: ...

    def record_direct(self, path: str, folder: str, *, mtime_ns: int, sha256: str,
                      content_type: str, bucket: str, result: UploadResult | None = None,
                      existing: Upload | None = None) -> Upload: ...

    def record_direct_many(self, records: Sequence[DirectRecord]) -> list[Upload]:
        """`record_direct` for each, in order, in one transaction: all or none."""
        ...


class Copier(Protocol):
    def iter_uploads(self, after_id: int = 0) -> Iterator[Upload]: ...

    def iter_files(self, after_id: int = 0) -> Iterator[FileRow]: ...

    def max_ids(self) -> tuple[int, int]: ...

    def copy_in(self, uploads: Iterable[Upload], files: Iterable[FileRow]) -> None: ...

    def restore(self, uploads: Iterable[Upload], files: Iterable[FileRow]) -> None:
        """Rows read back from a bucket: recorded uploads kept, the newer path kept."""
        ...

    def refresh_statistics(self) -> None: ...


class Feed(Protocol):
    """The events in id order (ossync.ledger.events): ids only grow, and an event is seen
    only after every smaller id is, so "everything after N" never skips one."""

    bell: Bell  # rings after each commit that recorded events (ossync.ledger.bell)

    def events_after(self, after: int, limit: int = 100) -> list[Event]: ...

    def next_events(self, after: int, limit: int, timeout: float,
                    stop: threading.Event | None = None) -> list[Event]:
        """Events after `after`, waiting up to `timeout` for some when there are none (the
        ledger's bell: no polling, no lost wake-up). May return [] before the timeout."""
        ...

    def last_event_id(self) -> int: ...

    def deliveries(self) -> list[Delivery]:
        """Each delivery endpoint's cursor, with how many events wait for it."""
        ...

    def watch_events(self, stop: threading.Event) -> None:
        """Until `stop`: ring this process's bell when another process or host records
        events (PostgreSQL: LISTEN; SQLite: inotify on the ledger's folder)."""
        ...


class Outbox(Feed, Protocol):
    """What the senders of ossync.outbox do: one cursor per endpoint, held by one host
    at a time under a lease, moved only by its holder from where it stands."""

    host: str

    def record_event(self, event: NewEvent) -> int:
        """An event that goes with no other change (the daemon held or resumed)."""
        ...

    def take_cursor(self, endpoint: str, lease: float) -> Delivery:
        """The cursor, held by this host unless `claimed_by` names another."""
        ...

    def advance_cursor(self, endpoint: str, at: int, through: int, sent: int,
                       lease: float) -> bool: ...

    def delivery_failed(self, endpoint: str, at: int, error: str, delay: float,
                        lease: float) -> bool: ...

    def give_up(self, endpoint: str, at: int, before: str, error: str,
                max_age: float) -> int: ...

    def release_cursor(self, endpoint: str) -> None: ...


class Fanout(Protocol):
    """What a worker that read a file tells the replicas, and asks of them."""

    def share_copies(self, row: FileRow, facts: CopyFacts, destinations: Collection[str]
                     ) -> int:
        """A pending copy per destination of the version read (hashed, stripped once),
        while the worker holds the row; a copy already holding this content stays."""
        ...

    def copies_complete(self, file_id: int, sha256: str, destinations: Collection[str]
                        ) -> bool:
        """The primary and every destination named hold this content, verified."""
        ...


class CopyQueue(Protocol):
    """A replica's workers: one copy in hand at a time, each ending in one outcome."""

    host: str

    def next_copy(self, destination: str, stop: threading.Event) -> CopyRow | None:
        """A due copy to `destination`, claimed under a lease; or None after sleeping
        until one may be due, copies are shared, or `stop`."""
        ...

    def notify(self) -> None: ...

    def claim_content(self, bucket: str, sha256: str, *, durable: bool = False) -> bool: ...

    def release_content(self, bucket: str, sha256: str) -> None: ...

    def copy_stored(self, destination: str, sha256: str, sent_sha256: str
                    ) -> CopyRow | None:
        """Another file's copy in `destination` holding these bytes (dedupe)."""
        ...

    def intend_copy(self, copy: CopyRow, *, key: str, tagging: str | None = None) -> None:
        """As `Queue.intend`, for a copy."""
        ...

    def settle_copy(self, copy: CopyRow, outcome: CopyOutcome) -> None:
        """Record how the copy ended (ossync.ledger.outcomes), in one transaction."""
        ...

    def copies_complete(self, file_id: int, sha256: str, destinations: Collection[str]
                        ) -> bool: ...


class Backfill(Protocol):
    """A replica added to a config is filled in; one removed is forgotten."""

    def backfill(self, destination: str, folders: Collection[str], *, after: int = 0,
                 limit: int = 100) -> tuple[int, int]:
        """Pending copies for uploaded files of `folders` with none in `destination`;
        (how many, the last file id covered)."""
        ...

    def copy_backlog(self, destination: str) -> int: ...

    def forget_copies(self, keep: Collection[str]) -> dict[str, int]:
        """Copies to destinations not in `keep` dropped; nothing in a store is touched."""
        ...


class CopyCatalog(Protocol):
    host: str

    def copies_of(self, path: str, host: str | None = None) -> list[Copy]: ...

    def copies_for(self, paths: Iterable[tuple[str, str]]
                   ) -> dict[tuple[str, str], list[Copy]]: ...

    def iter_copy_items(self, destination: str, *, since: datetime | None = None,
                        until: datetime | None = None, folder: str | None = None,
                        state: str | None = "uploaded", limit: int | None = None
                        ) -> Iterator[Item]: ...

    def copy_status(self, destination: str, today_start: datetime | None = None) -> Status:
        ...

    def copy_counts(self) -> dict[str, dict[str, int]]: ...


class AppUploads(Protocol):
    """Forms given to apps (`uploads:`) and what became of them: issued before the answer
    goes out, recorded once (by a callback, a confirm or the periodic check, whichever
    comes first), dropped when unused past their expiry."""

    host: str

    def issue(self, issued: Iterable[Issued]) -> None:
        """Write the forms of one request down, in one transaction."""
        ...

    def issued(self, upload_id: str) -> Issued | None: ...

    def record_issued(self, issued: Issued, result: UploadResult) -> Upload:
        """The verified object as an upload, its files row `uploaded` and a
        `file.uploaded` event, in one transaction; a second call changes nothing and
        returns the upload the first recorded."""
        ...

    def due_issued(self, before: str, limit: int = 100) -> list[Issued]:
        """This host's forms not yet recorded whose next check is due by `before`."""
        ...

    def check_later(self, upload_id: str, when: str) -> None:
        """Nothing found yet: look again at `when` (the checks counted)."""
        ...

    def drop_issued(self, upload_id: str) -> bool:
        """Forget a form never used (not one recorded meanwhile)."""
        ...
