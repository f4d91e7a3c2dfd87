"""Object storage on local disk: atomic, restart-safe, and unable to escape `root`.

Layout (one server per root at a time)::

    root/<bucket>/objects/<h[:2]>/<h>.json          metadata; its rename commits a write
    root/<bucket>/objects/<h[:2]>/<h>.<nonce>.data  the bytes the metadata points at
    root/<bucket>/objects/<h[:2]>/<h>.<nonce>.<i>.data  part i of a multipart object
    root/<bucket>/uploads/                           multipart uploads in progress (`uploads`)
    root/<bucket>/.tmp/                              uploads being spooled

where `h` is the SHA-256 hex of the UTF-8 key. No part of a path ever comes
from the key, so `..`, `//`, `%`, `?`, Chinese or 1023-byte keys are all just
bytes in the metadata JSON (which holds the real key). A write spools to `.tmp`
and fsyncs, renames the data file into place, then atomically replaces the
metadata (fsync + rename), then drops the old data file. CompleteMultipartUpload
copies nothing: it renames the listed parts' files next to the metadata and lists them
in it, in order (`ObjectMeta.parts`); a GET streams them one after the other. Bucket
names are validated, so they are safe path components too.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

from ossync.core.crc64 import crc64_of_parts
from ossync.localoss.disk import JoinedFiles, Spool, fsync_dir, write_atomic
from ossync.localoss.options import Extras, bare_meta
from ossync.localoss.responses import OSSError
from ossync.localoss.uploads import PartMeta, Upload, Uploads, multipart_etag

__all__ = ["Bucket", "ObjectMeta", "Spool", "validate_key"]

log = logging.getLogger("ossync.localoss")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
MAX_KEY_BYTES = 1023
CHUNK = 64 * 1024


def validate_key(key: str) -> None:
    """OSS object names: 1-1023 bytes of UTF-8, not starting with `/` or `\\`."""
    if not 0 < len(key.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES or key[0] in "/\\":
        raise OSSError(400, "InvalidObjectName", "The specified object is not valid.")


@dataclass(frozen=True)
class ObjectMeta:
    key: str
    size: int
    etag: str  # quoted upper-case hex MD5 (or `"<hex>-<parts>"` for a multipart object)
    crc64: int
    content_type: str
    mtime: float
    data: str  # data file name, next to the metadata ("" for a multipart object)
    user_meta: dict[str, str] = field(default_factory=dict)  # by bare name
    parts: list[str] = field(default_factory=list)  # a multipart object's files, in order
    extras: dict[str, Any] = field(default_factory=dict)  # `Extras` as JSON

    def files(self) -> list[str]:
        return self.parts or [self.data]

    @property
    def options(self) -> Extras:
        return Extras.from_json(self.extras)

    @property
    def object_type(self) -> str:
        return "Multipart" if self.parts else "Normal"


def already_exists() -> OSSError:
    return OSSError(409, "FileAlreadyExists", "The object you specified already exists and "
                    "can not be overwritten.")


class Bucket:
    """One bucket's objects; an in-memory index of the metadata, guarded by a lock."""

    def __init__(self, root: Path, name: str) -> None:
        if not BUCKET_NAME.match(name):
            raise ValueError(f"invalid bucket name {name!r}")
        self.name = name
        self.objects = root / name / "objects"
        self.tmp = root / name / ".tmp"
        self.lock = threading.Lock()
        self.index: dict[str, ObjectMeta] = {}
        self._order: list[str] | None = None  # the keys sorted, kept until a key comes or goes
        self.uploads = Uploads(root / name / "uploads", self.lock)
        self._load()

    def _load(self) -> None:
        self.objects.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        for stale in [*self.tmp.iterdir(), *self.objects.glob("*/*.tmp")]:
            stale.unlink(missing_ok=True)
        live: set[Path] = set()
        for meta_path in self.objects.glob("*/*.json"):
            try:
                meta = ObjectMeta(**json.loads(meta_path.read_text("utf-8")))
                meta = replace(meta, user_meta=bare_meta(meta.user_meta))
            except (ValueError, TypeError):
                log.warning("local-oss: ignoring unreadable metadata %s", meta_path)
                continue
            files = [meta_path.parent / name for name in meta.files()]
            if all(f.exists() for f in files) and _digest(meta.key) == meta_path.stem:
                self.index[meta.key] = meta
                live.update(files)
        for data in self.objects.glob("*/*.data"):
            if data not in live:  # left by a crash between two renames
                data.unlink(missing_ok=True)
        self.uploads.load()

    def spool(self) -> Spool:
        return Spool(self.tmp)

    def commit(self, key: str, spool: Spool, content_type: str, user_meta: dict[str, str],
               *, forbid_overwrite: bool, extras: Extras | None = None) -> ObjectMeta:
        """Make the spooled upload the object `key`; at most one racing writer wins."""
        spool.finish()
        digest = _digest(key)
        folder = self.objects / digest[:2]
        folder.mkdir(exist_ok=True)
        meta = ObjectMeta(key, spool.size, spool.etag, spool.crc.value, content_type,
                          time.time(), f"{digest}.{uuid.uuid4().hex}.data",
                          bare_meta(user_meta), [], (extras or Extras()).as_json())
        with self.lock:
            if forbid_overwrite and key in self.index:
                spool.discard()
                raise already_exists()
            os.replace(spool.path, folder / meta.data)
            old = self._publish_locked(folder, meta)
        self._drop(folder, old)
        return meta

    def complete(self, upload_id: str, key: str, choose: Callable[[Upload], list[PartMeta]],
                 *, forbid_overwrite: bool) -> ObjectMeta:
        """Make the parts `choose` picks (it raises to refuse) the object `key`, by renaming
        their files: no byte is copied. The upload is gone afterwards, unlisted parts too."""
        digest = _digest(key)
        folder = self.objects / digest[:2]
        folder.mkdir(exist_ok=True)
        with self.lock:
            upload = self.uploads.find_locked(upload_id, key)
            parts = choose(upload)
            if forbid_overwrite and key in self.index:
                raise already_exists()
            nonce = uuid.uuid4().hex
            names = [f"{digest}.{nonce}.{i}.data" for i in range(1, len(parts) + 1)]
            for part, name in zip(parts, names, strict=True):
                os.replace(self.uploads.data_path(upload, part), folder / name)
            meta = ObjectMeta(key, sum(p.size for p in parts), multipart_etag(parts),
                              crc64_of_parts((p.crc64, p.size) for p in parts),
                              upload.content_type, time.time(), "",
                              bare_meta(upload.user_meta), names, dict(upload.extras))
            old = self._publish_locked(folder, meta)
            self.uploads.forget_locked(upload)
        self._drop(folder, old)
        self.uploads.remove(upload)
        return meta

    def _publish_locked(self, folder: Path, meta: ObjectMeta) -> ObjectMeta | None:
        """Write the metadata (the commit point) and index it; return what it replaced."""
        write_atomic(folder / f"{_digest(meta.key)}.json", json.dumps(asdict(meta)).encode())
        old = self.index.get(meta.key)
        self.index[meta.key] = meta
        if old is None:
            self._order = None
        return old

    @staticmethod
    def _drop(folder: Path, meta: ObjectMeta | None) -> None:
        for name in meta.files() if meta is not None else []:
            (folder / name).unlink(missing_ok=True)

    def open(self, key: str) -> tuple[ObjectMeta, BinaryIO] | None:
        """Metadata and an open data file (valid even if overwritten meanwhile); a
        multipart object's later parts are opened as they are reached, so an overwrite
        or delete mid-read ends the read early."""
        with self.lock:
            meta = self.index.get(key)
            if meta is None:
                return None
            folder = self.objects / _digest(key)[:2]
            joined = JoinedFiles([folder / name for name in meta.files()])
        return meta, io.BufferedReader(joined, CHUNK)

    def head(self, key: str) -> ObjectMeta | None:
        with self.lock:
            return self.index.get(key)

    def set_tags(self, key: str, tags: dict[str, str]) -> ObjectMeta | None:
        """Replace an object's tags (its bytes stay); None when there is no such object."""
        folder = self.objects / _digest(key)[:2]
        with self.lock:
            meta = self.index.get(key)
            if meta is None:
                return None
            tagged = replace(meta, extras=replace(meta.options, tags=dict(tags)).as_json())
            self._publish_locked(folder, tagged)
            return tagged

    def delete(self, key: str) -> None:
        digest = _digest(key)
        folder = self.objects / digest[:2]
        with self.lock:
            meta = self.index.pop(key, None)
            if meta is None:
                return
            self._order = None
            (folder / f"{digest}.json").unlink(missing_ok=True)
            fsync_dir(folder)
        self._drop(folder, meta)

    def after(self, start: str, prefix: str = "") -> Iterator[ObjectMeta]:
        """The objects under `prefix` whose keys sort after `start`, in key order: a
        listing's page without sorting the bucket each time (a rebuild pages through
        millions)."""
        with self.lock:
            if self._order is None:
                self._order = sorted(self.index)
            order = self._order
        first = bisect.bisect_right(order, start) if start >= prefix else bisect.bisect_left(
            order, prefix)
        for i in range(first, len(order)):
            key = order[i]
            if not key.startswith(prefix):
                return
            with self.lock:
                meta = self.index.get(key)
            if meta is not None:
                yield meta

    def snapshot(self) -> Iterator[ObjectMeta]:
        """A snapshot of the objects sorted by key (code point order = UTF-8 byte order)."""
        with self.lock:
            items = list(self.index.values())
        return iter(sorted(items, key=lambda m: m.key))


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
