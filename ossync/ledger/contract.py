"""The ledger contract: what the daemon, the workers, `put` and the query commands need.

`Ledger` is the one interface; `ossync.ledger.sqlite.SqliteLedger` is its first
implementation. Backends implement the abstract methods (each one statement or
one short transaction); the read-side conveniences at the bottom (`url_for`,
`find`, `items`, `uploads`, `status`) are written once, here, on top of them.
`Ledger.open(location)` picks the backend that claims the location.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Protocol

from ossync.core.addressing import with_process
from ossync.core.host import default_host
from ossync.core.objects import Part, UploadResult
from ossync.core.units import Lifetime
from ossync.ledger.errors import SignerMissing
from ossync.ledger.records import (
    Content,
    FileRow,
    Item,
    MultipartRow,
    Sighting,
    Status,
    Upload,
)


class UrlSigner(Protocol):
    """Mints a presigned GET URL for an object (`ossync.targets.oss.presign.UrlSigner`)."""

    def sign(self, bucket: str, key: str, *, expires: Lifetime | None = None,
             process: str | None = None) -> str: ...


Opener = Callable[[str, bool, bool, str], "Ledger"]
DEFAULT_LEASE = 600.0  # seconds a claim holds without renewal: longer than any progress gap
_BACKENDS: list[tuple[Callable[[str], bool], Opener]] = []


def register_backend(claims: Callable[[str], bool], opener: Opener) -> None:
    """A backend says which locations it serves (a path, a `postgresql://` URL, …)."""
    _BACKENDS.append((claims, opener))


class Ledger(ABC):
    """The durable queue of local files and the record of the objects they became."""

    signer: UrlSigner | None = None  # mints signed URLs for url_for(signed=True)
    location: str  # as it may be shown: passwords removed
    host: str  # this daemon's name, recorded on every row it writes
    lease: float = DEFAULT_LEASE

    @classmethod
    def open(cls, location: Path | str, *, readonly: bool = False, exclusive: bool = False,
             host: str | None = None) -> Ledger:
        """Open (creating and migrating unless read-only).

        `exclusive` refuses a second daemon with the same host name on the same ledger;
        `host` defaults to the machine's host name."""
        text = str(location)
        for claims, opener in _BACKENDS:
            if claims(text):
                return opener(text, readonly, exclusive, host or default_host())
        raise ValueError(f"no ledger backend understands {text!r}")

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def data_version(self) -> int:
        """A number that changes when another connection commits (`ossync retry`, say)."""

    # --- the queue (written by intake and the workers) ---------------------------

    @abstractmethod
    def note(self, sightings: Iterable[Sighting], now: float) -> int:
        """Record candidates in one transaction; returns how many are (re)queued.

        A new path, or a known path whose size or mtime changed, becomes pending and
        due at `now` + its settle period; an unchanged path keeps its state."""

    @abstractmethod
    def known_unchanged(self, path: str, size: int, mtime_ns: int) -> bool:
        """True when the ledger has this exact path, size and mtime (the scan's fast path)."""

    @abstractmethod
    def reset_interrupted(self, keep: Collection[int] = ()) -> int:
        """Rows this host left `uploading` (a crash) go back to pending, due now; its
        content claims are dropped. `keep`: ids of rows a worker still holds (after a
        ledger outage, a claim the ledger committed but whose answer was lost is held
        by nobody: it goes back too)."""

    @abstractmethod
    def claim(self, now: float, groups: tuple[str, ...] = ()) -> FileRow | None:
        """Take the earliest due row, marking it `uploading` under a lease of `self.lease`.

        Due rows are this host's pending rows due by `now`, pending rows of a folder
        group this host serves, and rows of those groups whose claim by another host
        ran out (that host died). Never two claims of one row at once."""

    def listen(self, groups: tuple[str, ...], wake: Callable[[], None],
               stop: threading.Event) -> None:
        """Block until `stop`, calling `wake` whenever another host makes a row of one of
        `groups` pending. A ledger of one host has nobody to hear: it just waits."""
        stop.wait()

    @abstractmethod
    def renew_leases(self) -> int:
        """Extend the lease on every row this host holds (the daemon calls it often)."""

    @abstractmethod
    def claim_content(self, bucket: str, sha256: str, *, take_own: bool = False) -> bool:
        """Take the right to upload these bytes into this bucket (one holder, fleet-wide);
        False while another holds an unexpired claim. `take_own`: a claim this host holds
        is stale (no worker of this process holds it: a release failed while the ledger
        was away) and may be taken over."""

    @abstractmethod
    def release_content(self, bucket: str, sha256: str) -> None: ...

    @abstractmethod
    def next_due(self, groups: tuple[str, ...] = ()) -> float | None:
        """When the earliest row this host may claim falls due (epoch seconds), or None:
        its own pending rows and, with `groups`, those groups' pending rows and the
        moment another host's claim on one of them runs out."""

    @abstractmethod
    def defer(self, row: FileRow, *, due: float, size: int, mtime_ns: int,
              error: str | None, count_attempt: bool) -> None:
        """A claimed row back to pending, due at `due` (not settled, or a retryable error)."""

    @abstractmethod
    def intend(self, row: FileRow, *, sha256: str, key: str) -> None:
        """Write down the key before sending, so a retry after a crash reuses it."""

    @abstractmethod
    def finish(self, row: FileRow, *, size: int, mtime_ns: int, sha256: str,
               upload: Upload) -> None:
        """Close a row against an object that already holds its bytes (a dedupe hit)."""

    @abstractmethod
    def record_upload(self, row: FileRow, result: UploadResult, *, bucket: str, sha256: str,
                      content_type: str, mtime_ns: int, content: Content | None = None
                      ) -> Upload:
        """Insert the upload (or find ours from an earlier run) and close the row, atomically.

        A row whose file changed while it was sent keeps the link and stays pending.
        `content` tells the original and the bytes sent apart (metadata stripped);
        without it they are the same bytes, as `result` describes them."""

    @abstractmethod
    def record_direct(self, path: str, folder: str, *, mtime_ns: int, sha256: str,
                      content_type: str, bucket: str, result: UploadResult | None = None,
                      existing: Upload | None = None) -> Upload:
        """Record a path uploaded outside the queue (`put`), or pointed at `existing`."""

    @abstractmethod
    def settle_terminal(self, row: FileRow, state: str, error: str | None,
                        attempts: int | None = None) -> None:
        """`failed` (needs a person: `ossync retry`) or `skipped` (not for upload)."""

    @abstractmethod
    def forget(self, row: FileRow) -> None:
        """The file vanished before it was uploaded: drop its row (keep an uploaded one)."""

    @abstractmethod
    def retry_failed(self, paths: list[str] | None = None) -> int:
        """Queue failed paths (all when `paths` is None) for another try now."""

    # --- multipart checkpoints (written as parts land, so an upload can resume) -----

    @abstractmethod
    def multipart_of(self, host: str, path: str) -> tuple[MultipartRow, list[Part]] | None:
        """The unfinished multipart upload of a path, with the parts the store confirmed."""

    @abstractmethod
    def multipart_begin(self, *, host: str, path: str, bucket: str, key: str, sha256: str,
                        size: int, part_size: int) -> int:
        """A new checkpoint, replacing any earlier one of the path (before Initiate)."""

    @abstractmethod
    def multipart_started(self, record_id: int, upload_id: str) -> None: ...

    @abstractmethod
    def multipart_part_done(self, record_id: int, part: Part) -> None: ...

    @abstractmethod
    def multipart_end(self, record_id: int) -> None:
        """The upload completed or was aborted: forget the checkpoint and its parts."""

    @abstractmethod
    def multipart_rows(self, host: str) -> list[MultipartRow]:
        """Every checkpoint of a host (for the sweep of uploads left behind)."""

    # --- lookups -----------------------------------------------------------------

    @abstractmethod
    def file_by_path(self, path: str) -> FileRow | None: ...

    @abstractmethod
    def upload_by_id(self, upload_id: int) -> Upload | None: ...

    @abstractmethod
    def upload_by_sha256(self, sha256: str, bucket: str, sent_sha256: str | None = None
                         ) -> Upload | None:
        """The first object recorded for a file with these bytes in this bucket (content
        dedupe); with `sent_sha256`, only one whose stored bytes have that hash too."""

    @abstractmethod
    def upload_by_key(self, bucket: str, key: str) -> Upload | None: ...

    @abstractmethod
    def upload_for_path(self, path: str) -> Upload | None:
        """The object holding this path's current content, if it is uploaded."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Rows per state."""

    # --- the read side (apps and the CLI) ----------------------------------------

    @abstractmethod
    def item(self, path: str, host: str | None = None) -> Item | None:
        """A path as recorded by `host` (default: this host)."""

    @abstractmethod
    def items_of(self, *, sha256: str | None = None, key: str | None = None) -> list[Item]:
        """Every path whose object has this content hash or this key, oldest first."""

    @abstractmethod
    def iter_items(self, *, since: datetime | None = None, until: datetime | None = None,
                   folder: str | None = None, state: str | None = "uploaded",
                   limit: int | None = None) -> Iterator[Item]:
        """Paths newest first by the time their state last changed, streamed."""

    @abstractmethod
    def folder_under(self, directory: str) -> str | None:
        """The folder label of any recorded path under `directory` (for `ls DIR`)."""

    @abstractmethod
    def status_since(self, today_start: datetime) -> Status: ...

    # --- whole tables (`ossync ledger copy`, checks) -------------------------------

    @abstractmethod
    def iter_uploads(self, after_id: int = 0) -> Iterator[Upload]:
        """Every upload row with an id above `after_id`, by id, streamed."""

    @abstractmethod
    def iter_files(self, after_id: int = 0) -> Iterator[FileRow]:
        """Every file row with an id above `after_id`, by id, streamed."""

    @abstractmethod
    def max_ids(self) -> tuple[int, int]:
        """The highest upload and file ids (0 when empty): where a resumed copy goes on."""

    @abstractmethod
    def refresh_statistics(self) -> None:
        """Let the planner see a bulk load at once (`ANALYZE`) instead of after autovacuum:
        until then PostgreSQL may scan whole tables for look-ups."""

    @abstractmethod
    def copy_in(self, uploads: Iterable[Upload], files: Iterable[FileRow]) -> None:
        """Insert rows from another ledger as they are (ids kept), in one transaction;
        rows whose id is already here are left alone, so a copy can resume."""

    def status(self) -> Status:
        midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0,
                                                       microsecond=0)
        return self.status_since(midnight)

    def find(self, *, sha256: str | None = None, key: str | None = None,
             path: str | None = None, host: str | None = None) -> list[Item]:
        """Every path recorded for a content hash or an object key (fleet-wide), or one
        path (of `host`, default this host)."""
        if path is not None:
            found = self.item(path, host)
            return [found] if found else []
        if key is None and sha256 is None:
            raise ValueError("find() needs sha256=, key= or path=")
        return self.items_of(sha256=None if sha256 is None else sha256.lower(), key=key)

    def items(self, *, since: datetime | None = None, until: datetime | None = None,
              folder: str | None = None, state: str | None = "uploaded",
              limit: int | None = None) -> list[Item]:
        return list(self.iter_items(since=since, until=until, folder=folder, state=state,
                                    limit=limit))

    def uploads(self, *, since: datetime | None = None, until: datetime | None = None,
                folder: str | None = None) -> list[Item]:
        """Uploaded paths in a time range, newest first (the Python API's feed)."""
        return self.items(since=since, until=until, folder=folder, state="uploaded")

    def url_for(self, path: str, *, signed: bool = False, expires: Lifetime | None = None,
                process: str | None = None, host: str | None = None) -> str | None:
        """The URL of the object holding this path's current content, if uploaded.

        By default the recorded (unsigned) URL. `signed=True` mints a presigned URL
        with `self.signer` (set it to `ossync.stores.url_signer(config)`), valid for
        `expires` (seconds or a timedelta; default the config's `url_expires`).
        `process` adds `x-oss-process` (e.g. `image/resize,w_300`), signed when signing.
        """
        found = self.item(path, host)
        if found is None:
            return None
        return self.url_of(found, signed=signed, expires=expires, process=process)

    def url_of(self, item: Item, *, signed: bool = False, expires: Lifetime | None = None,
               process: str | None = None) -> str | None:
        """An item's URL as `url_for` gives it (None until it is uploaded)."""
        if signed and self.signer is None:
            raise SignerMissing("signed URLs need credentials: set ledger.signer = "
                                "url_signer(load_config(path)) (ossync.stores) first")
        return item_url(item, self.signer if signed else None, expires=expires,
                        process=process)


def item_url(item: Item, signer: UrlSigner | None, *, expires: Lifetime | None = None,
             process: str | None = None) -> str | None:
    """Signed by `signer` if one is given, else the recorded URL; None until uploaded."""
    if item.url is None or item.bucket is None or item.key is None:
        return None
    if signer is None:
        return with_process(item.url, process)
    return signer.sign(item.bucket, item.key, expires=expires, process=process)
