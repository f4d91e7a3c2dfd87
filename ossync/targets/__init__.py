"""The contract every upload target meets; the daemon and `put` only talk to this.

Targets are leaf modules that never see config: `ossync.stores` maps each config
section to constructor arguments. There are three: `oss.OssTarget` (Alibaba Cloud
OSS), `s3.S3Target` (S3-compatible stores, SigV4 POST or PUT) and
`local.LocalTarget` (a folder). Files over `multipart_threshold` go to OSS and S3 as
multipart uploads (`ossync.targets.multipart`), resumable through a `Journal`.

An upload may carry `ObjectOptions` (storage class, ACL, encryption, headers, tags,
metadata: `ossync.core.objectopts`), each sent as its store takes it. `BucketReader` is
the other side, for `ossync ledger rebuild` and `ossync verify`: a listing, a HEAD with
the metadata, the tags.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

# The values and exceptions of the contract live on the floor, where the ledger
# records them too; they are re-exported here with the contract that uses them.
from ossync.core.objectopts import ObjectOptions
from ossync.core.objects import (
    FileChanged,
    KeyTaken,
    Listed,
    ListPage,
    ObjectInfo,
    UploadInterrupted,
    UploadResult,
)

if TYPE_CHECKING:
    from ossync.targets.multipart.plan import Journal


class Target(Protocol):
    """Upload a file under a key without ever replacing a different object."""

    def upload(self, path: Path, key: str, *, content_type: str,
               journal: Journal | None = None,
               options: ObjectOptions | None = None) -> UploadResult:
        """Store the file; raise KeyTaken, FileChanged, UploadInterrupted, or StoreError
        (with `retryable`). A big file goes in parts, its progress kept in `journal`.
        `options` go with the object; tags a request cannot carry are owed
        (`UploadResult.tagging_owed`) and sent by `tag`."""
        ...

    def tag(self, key: str, tags: tuple[tuple[str, str], ...]) -> None:
        """Set the object's tags (PutObjectTagging), replacing any it has."""
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


@runtime_checkable
class BucketReader(Protocol):
    """What a rebuild and a check read of a bucket: pages of keys, then each object."""

    def list_page(self, prefix: str, token: str | None) -> ListPage:
        """Up to 1000 objects under `prefix` in key order, after `token`'s place."""
        ...

    def head(self, key: str) -> ObjectInfo | None: ...

    def tags_of(self, key: str) -> dict[str, str]:
        """The object's tags (GetObjectTagging)."""
        ...

    def url_for(self, key: str) -> str: ...

    def close(self) -> None: ...


__all__ = ["BucketReader", "FileChanged", "KeyTaken", "ListPage", "Listed", "ObjectInfo",
           "ObjectOptions", "Target", "UploadInterrupted", "UploadResult"]
