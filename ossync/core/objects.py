"""What stores hold and what their callers catch: plain values and exceptions that the
targets return or raise, the worker acts on and the ledger records.

They live on the floor so that the ledger can record an upload without knowing any
store: `ossync.targets` makes them, `ossync.ledger` writes them down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class UploadResult:
    """What landed: the object's key and URL, and the checksums the store confirmed.

    `crc64` is the CRC-64 of the bytes stored (returned by OSS; for S3 and local, of
    the bytes sent, which the store's MD5 confirmed or which were copied): callers
    compare it with the file they hashed to catch a file that changed mid-upload.
    """

    key: str
    url: str
    size: int
    etag: str | None
    crc64: int | None
    request_id: str | None = None
    already_present: bool = False  # an earlier attempt of ours had stored it
    # The object's tags could not go with it (OSS PostObject takes none): the caller
    # owes a `tag()` call, and writes that debt down first.
    tagging_owed: bool = False


@dataclass(frozen=True)
class ObjectInfo:
    """What a HEAD tells of an object: its size and checksums, and for a rebuild or a
    check its user metadata (names lower-case, without the store's prefix), storage
    class, encryption, number of tags and when it was stored (RFC 3339 UTC)."""

    key: str
    size: int
    etag: str | None
    crc64: int | None
    content_type: str | None
    metadata: Mapping[str, str] = field(default_factory=dict)
    storage_class: str | None = None
    encryption: str | None = None
    tag_count: int | None = None
    last_modified: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # Cache-Control and the like


@dataclass(frozen=True)
class Listed:
    """One entry of a bucket listing (ListObjectsV2): no metadata, a HEAD tells that."""

    key: str
    size: int
    etag: str | None
    last_modified: str | None
    storage_class: str | None = None


@dataclass(frozen=True)
class ListPage:
    """A page of a listing, in key order; `token` continues it (None: the last page)."""

    objects: tuple[Listed, ...]
    token: str | None


@dataclass(frozen=True)
class Part:
    """One part the store holds: its number, size, ETag (as the store gave it) and the
    CRC-64 of its bytes (None when only the store's listing is known)."""

    number: int
    size: int
    etag: str
    crc64: int | None = None

    def same_etag(self, other: str) -> bool:
        return _bare(self.etag) == _bare(other)


def _bare(etag: str) -> str:
    return etag.strip().strip('"').lower()


@dataclass(frozen=True)
class Checkpoint:
    """A multipart upload in progress as a journal remembers it."""

    key: str
    upload_id: str | None  # None: it was being started when the last attempt ended
    sha256: str  # of the bytes being sent
    size: int
    part_size: int
    parts: dict[int, Part] = field(default_factory=dict)


class KeyTaken(Exception):
    """The key holds a different object; the caller must choose another key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"object key {key!r} already holds different content")
        self.key = key


class FileChanged(Exception):
    """The local file changed size or content while it was being sent."""


class UploadInterrupted(Exception):
    """The daemon is stopping: a multipart upload ended between parts, its journal
    keeps what was sent, and the next attempt resumes it."""
