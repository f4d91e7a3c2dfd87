"""Object storage on local disk: atomic, restart-safe, and unable to escape `root`.

Layout (one server per root at a time)::

    root/<bucket>/objects/<h[:2]>/<h>.json          metadata; its rename commits a write
    root/<bucket>/objects/<h[:2]>/<h>.<nonce>.data  the bytes the metadata points at
    root/<bucket>/.tmp/                              uploads being spooled

where `h` is the SHA-256 hex of the UTF-8 key. No part of a path ever comes
from the key, so `..`, `//`, `%`, `?`, Chinese or 1023-byte keys are all just
bytes in the metadata JSON (which holds the real key). A write spools to `.tmp`
and fsyncs, renames the data file into place, then atomically replaces the
metadata (fsync + rename), then drops the old data file. Bucket names are
validated, so they are safe path components too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from ossync.core.crc64 import Crc64
from ossync.localoss.responses import OSSError

log = logging.getLogger("ossync.localoss")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
MAX_KEY_BYTES = 1023


def validate_key(key: str) -> None:
    """OSS object names: 1-1023 bytes of UTF-8, not starting with `/` or `\\`."""
    if not 0 < len(key.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES or key[0] in "/\\":
        raise OSSError(400, "InvalidObjectName", "The specified object is not valid.")


@dataclass(frozen=True)
class ObjectMeta:
    key: str
    size: int
    etag: str  # quoted upper-case hex MD5
    crc64: int
    content_type: str
    mtime: float
    data: str  # data file name, next to the metadata
    user_meta: dict[str, str] = field(default_factory=dict)


class Spool:
    """A temp file being filled with an upload, hashing (MD5, CRC-64) as it goes."""

    def __init__(self, directory: Path) -> None:
        fd, name = tempfile.mkstemp(dir=directory, suffix=".part")
        self.path = Path(name)
        self.file = os.fdopen(fd, "wb")
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.crc = Crc64()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.file.write(data)
        self.md5.update(data)
        self.crc.update(data)
        self.size += len(data)
        return len(data)

    def finish(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()

    def discard(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)

    @property
    def etag(self) -> str:
        return f'"{self.md5.hexdigest().upper()}"'


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
            except (ValueError, TypeError):
                log.warning("local-oss: ignoring unreadable metadata %s", meta_path)
                continue
            if (meta_path.parent / meta.data).exists() and _digest(meta.key) == meta_path.stem:
                self.index[meta.key] = meta
                live.add(meta_path.parent / meta.data)
        for data in self.objects.glob("*/*.data"):
            if data not in live:  # left by a crash between two renames
                data.unlink(missing_ok=True)

    def spool(self) -> Spool:
        return Spool(self.tmp)

    def commit(self, key: str, spool: Spool, content_type: str, user_meta: dict[str, str],
               *, forbid_overwrite: bool) -> ObjectMeta:
        """Make the spooled upload the object `key`; at most one racing writer wins."""
        spool.finish()
        digest = _digest(key)
        folder = self.objects / digest[:2]
        folder.mkdir(exist_ok=True)
        meta = ObjectMeta(key, spool.size, spool.etag, spool.crc.value, content_type,
                          time.time(), f"{digest}.{uuid.uuid4().hex}.data", user_meta)
        with self.lock:
            if forbid_overwrite and key in self.index:
                spool.discard()
                raise OSSError(409, "FileAlreadyExists", "The object you specified already "
                               "exists and can not be overwritten.")
            os.replace(spool.path, folder / meta.data)
            _write_atomic(folder / f"{digest}.json", json.dumps(asdict(meta)).encode())
            old = self.index.get(key)
            self.index[key] = meta
        if old is not None:
            (folder / old.data).unlink(missing_ok=True)
        return meta

    def open(self, key: str) -> tuple[ObjectMeta, BinaryIO] | None:
        """Metadata and an open data file (valid even if overwritten meanwhile)."""
        with self.lock:
            meta = self.index.get(key)
            if meta is None:
                return None
            return meta, (self.objects / _digest(key)[:2] / meta.data).open("rb")

    def head(self, key: str) -> ObjectMeta | None:
        with self.lock:
            return self.index.get(key)

    def delete(self, key: str) -> None:
        digest = _digest(key)
        folder = self.objects / digest[:2]
        with self.lock:
            meta = self.index.pop(key, None)
            if meta is None:
                return
            (folder / f"{digest}.json").unlink(missing_ok=True)
            _fsync_dir(folder)
        (folder / meta.data).unlink(missing_ok=True)

    def snapshot(self) -> Iterator[ObjectMeta]:
        """A snapshot of the objects sorted by key (code point order = UTF-8 byte order)."""
        with self.lock:
            items = list(self.index.values())
        return iter(sorted(items, key=lambda m: m.key))


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
