"""The ledger's records: what every backend stores and returns, as frozen dataclasses.

Times are RFC 3339 UTC text with milliseconds (`now_text()`), so they sort as
text in every backend and read as time in every output format.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from ossync.core.objects import UploadResult

STATES = ("pending", "uploading", "uploaded", "failed", "skipped")


def now_text() -> str:
    """RFC 3339 UTC with milliseconds: sorts as text, reads as time."""
    return stamp(datetime.now(timezone.utc))


def stamp(moment: datetime) -> str:
    """A bound comparable with the ledger's stored RFC 3339 text."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class Sighting:
    """A file as stat() saw it, from an event or a scan."""

    path: str
    folder: str
    size: int
    mtime_ns: int
    settle: float
    group: str | None = None  # hosts that see the same share under the same path


@dataclass(frozen=True)
class Upload:
    """One object we stored (or recognised as ours) in a bucket."""

    id: int
    bucket: str
    key: str
    url: str
    sha256: str
    size: int
    crc64: str | None
    etag: str | None
    content_type: str | None
    path: str
    folder: str
    uploaded_at: str
    request_id: str | None
    host: str = ""
    # The bytes sent and stored: the file's own unless metadata was stripped.
    sent_sha256: str | None = None
    sent_size: int | None = None
    sent_crc64: str | None = None
    strip_level: str = "none"  # the folder's strip_metadata when it was sent
    stripped: str | None = None  # what was removed, one line; None: nothing


@dataclass(frozen=True)
class DirectRecord:
    """A file uploaded outside the queue (`ossync put`): its object, new (`result`) or
    already stored (`existing`), and the path that now points at it."""

    path: str
    folder: str
    mtime_ns: int
    sha256: str
    content_type: str
    bucket: str
    result: UploadResult | None = None
    existing: Upload | None = None


@dataclass(frozen=True)
class Content:
    """An upload's two stories: the local file (`sha256`, `size`, `crc64`, which dedupe and
    look-ups by local file use) and the bytes sent, which differ when metadata was
    stripped (the integrity check runs on those)."""

    sha256: str
    size: int
    crc64: int
    sent_sha256: str
    sent_size: int
    sent_crc64: int
    strip_level: str = "none"
    stripped: str | None = None

    @classmethod
    def unchanged(cls, sha256: str, size: int, crc64: int, strip_level: str = "none"
                  ) -> Content:
        """The file sent as it is (nothing to strip, or stripping off)."""
        return cls(sha256, size, crc64, sha256, size, crc64, strip_level)


@dataclass(frozen=True)
class FileRow:
    """One local path as the queue knows it."""

    id: int
    path: str
    folder: str
    size: int
    mtime_ns: int
    state: str
    attempts: int
    next_attempt: float
    last_error: str | None
    sha256: str | None
    pending_key: str | None
    upload_id: int | None
    seen_at: str
    updated_at: str
    host: str = ""
    grp: str | None = None
    claimed_by: str | None = None
    lease_until: float | None = None
    # Tags the object at `pending_key` still needs (`k=v&k2=v2`): set after an upload
    # that could not carry them, cleared when the row is recorded.
    tagging_owed: str | None = None


@dataclass(frozen=True)
class Item:
    """One local path and, once uploaded, the object that holds its content.

    `uploaded_from` differs from `path` when the content was already uploaded from
    another path (a dedupe alias).
    """

    path: str
    folder: str
    state: str
    size: int
    mtime_ns: int
    sha256: str | None
    attempts: int
    last_error: str | None
    seen_at: str
    updated_at: str
    bucket: str | None
    key: str | None
    url: str | None
    etag: str | None
    crc64: str | None
    content_type: str | None
    uploaded_at: str | None
    uploaded_from: str | None
    host: str = ""
    sent_sha256: str | None = None
    sent_size: int | None = None
    sent_crc64: str | None = None
    strip_level: str | None = None
    stripped: str | None = None


@dataclass(frozen=True)
class Status:
    """A daemon-independent summary, read from the ledger alone."""

    queued: int
    in_progress: int
    failed: int
    skipped: int
    uploaded_files: int
    uploaded_today: int
    uploads_total: int
    oldest_pending_since: str | None
    last_upload_at: str | None
    top_errors: list[tuple[str, int]]


@dataclass(frozen=True)
class MultipartRow:
    """A multipart upload a host began for one of its paths and has not finished: the
    checkpoint a later attempt resumes from (its parts are kept beside it)."""

    id: int
    host: str
    path: str
    bucket: str
    key: str
    upload_id: str | None  # None: it was being started when the attempt ended
    sha256: str  # of the bytes being sent
    size: int
    part_size: int
    started_at: str
    destination: str = ""  # a replica's name; "" for the primary


@dataclass(frozen=True)
class CopyFacts:
    """What a file's copies to the replicas need, from the worker that read it once: the
    version of the file it read (`size`, `mtime_ns`), its content and the bytes to send
    (`content`: both stories, as stripping left them) and its real type."""

    size: int
    mtime_ns: int
    content: Content
    content_type: str


@dataclass(frozen=True)
class CopyRow:
    """One file's copy to one replica, as the replica's queue knows it: the file's version
    and content it is a copy of, and, once stored, the object that holds it."""

    id: int
    file_id: int
    destination: str
    host: str
    path: str  # the file's (from its `files` row)
    folder: str
    state: str
    size: int
    mtime_ns: int
    sha256: str
    crc64: str | None  # the original file's
    content_type: str
    sent_sha256: str
    sent_size: int
    sent_crc64: str | None
    strip_level: str
    stripped: str | None
    attempts: int
    next_attempt: float
    last_error: str | None
    pending_key: str | None
    tagging_owed: str | None
    bucket: str | None
    key: str | None
    url: str | None
    etag: str | None
    request_id: str | None
    uploaded_at: str | None
    duplicate: int
    updated_at: str
    grp: str | None = None
    claimed_by: str | None = None
    lease_until: float | None = None

    @property
    def facts(self) -> Content:
        """Its content's two stories, as the ledger's other records tell them."""
        return Content(self.sha256, self.size, int(self.crc64 or 0), self.sent_sha256,
                       self.sent_size, int(self.sent_crc64 or 0), self.strip_level,
                       self.stripped)


@dataclass(frozen=True)
class Copy:
    """A file's copy in one destination, as `show` and `/v1/files` tell it."""

    destination: str
    state: str
    bucket: str | None
    key: str | None
    url: str | None  # None until it is stored
    etag: str | None
    sent_crc64: str | None
    uploaded_at: str | None
    attempts: int
    last_error: str | None
    updated_at: str
    duplicate: bool = False  # recorded against an object already in the destination


@dataclass(frozen=True)
class Event:
    """One event, as recorded (in the same transaction as the change it tells of): `id`
    grows with every event and is never reused; `data` is its JSON text (valid UTF-8)."""

    id: int
    type: str
    at: str
    host: str
    folder: str | None
    data: str


@dataclass(frozen=True)
class Delivery:
    """One delivery endpoint's cursor (a webhook's `name`, or `on_upload`): everything up
    to `delivered` went (or was passed over); the next event waits for `next_attempt`."""

    endpoint: str
    delivered: int  # id of the last event delivered or passed over
    attempts: int  # failed attempts at the next event
    next_attempt: float  # Unix seconds
    last_error: str | None
    sent: int  # events delivered, in all
    failures: int  # failed attempts, in all
    given_up: int  # events given up on, in all
    claimed_by: str | None  # the host sending for it now
    lease_until: float | None  # the backend's clock
    updated_at: str
    pending: int = 0  # events after `delivered` (read with the row)
    oldest_pending_at: str | None = None  # when the first of them was recorded
    lease_left: float | None = None  # seconds the hold has left (from take_cursor)


@dataclass(frozen=True)
class Issued:
    """A form an app was given (`POST /v1/uploads`): the one object it may write, until
    `expires_at`; once that object landed and was verified, `recorded`, with the upload
    that records it. One never used is deleted once a check after its expiry finds
    nothing."""

    id: str  # the upload's id: unguessable, in its key and in /v1/uploads/ID/done
    host: str  # whose daemon issued it (and checks it)
    folder: str  # `uploads.folder`
    path: str  # the files row it becomes: `upload:ID/NAME`
    bucket: str
    key: str
    name: str  # the client's file name, printable form
    size: int
    content_type: str
    issued_at: str
    expires_at: str  # when the form stops working
    state: str = "issued"  # or `recorded`
    upload_id: int | None = None
    checks: int = 0  # looks in the bucket so far
    next_check: str = ""  # when the periodic check looks next
