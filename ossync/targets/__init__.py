"""The contract every upload target meets; the daemon and `put` only talk to this.

Targets are leaf modules that never read YAML: `ossync.targets.factory` maps
config to constructor arguments. There are three: `oss.OssTarget` (Alibaba Cloud
OSS), `s3.S3Target` (S3-compatible stores, SigV4 POST or PUT) and
`local.LocalTarget` (a folder). Files over `multipart_threshold` go to OSS and S3 as
multipart uploads (`ossync.targets.multipart`), resumable through a `Journal`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ossync.targets.multipart.plan import Journal


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


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str | None
    crc64: int | None
    content_type: str | None


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


class Target(Protocol):
    """Upload a file under a key without ever replacing a different object."""

    def upload(self, path: Path, key: str, *, content_type: str,
               journal: Journal | None = None) -> UploadResult:
        """Store the file; raise KeyTaken, FileChanged, UploadInterrupted, or StoreError
        (with `retryable`). A big file goes in parts, its progress kept in `journal`."""
        ...

    def abandon(self, key: str, upload_id: str | None) -> None:
        """Abort a multipart upload left behind (upload_id None: every open upload of
        that key), so no unfinished parts stay stored and billed."""
        ...

    def head(self, key: str) -> ObjectInfo | None:
        """The stored object's size and checksums, or None when there is none."""
        ...

    def delete(self, key: str) -> None:
        """Remove an object (used only for one we just wrote with the wrong bytes)."""
        ...

    def url_for(self, key: str) -> str:
        """The plain (unsigned) URL of an object."""
        ...

    def close(self) -> None: ...
