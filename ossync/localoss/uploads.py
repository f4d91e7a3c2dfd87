"""Multipart uploads in progress, on disk, so they survive a restart of the endpoint.

Layout (inside one bucket)::

    uploads/<upload id>/upload.json           key, Content-Type, user metadata, start time
    uploads/<upload id>/<n>.json              part n: size, ETag, CRC-64; its rename commits it
    uploads/<upload id>/<n>.<nonce>.data      part n's bytes (sparse where they are zeros)

An upload id is 32 upper-case hex digits checked against `UPLOAD_ID` before it names a
folder; its first 16 are the start time in nanoseconds, so ids of one key sort in the
order the uploads began. `upload.json` goes first and is removed first: a folder
without it is debris from a crash (or an abort) and is deleted at load. Parts follow
`disk`'s discipline (spool, fsync, rename, then the JSON). The bucket's lock guards
the in-memory index; methods named `*_locked` expect the caller to hold it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ossync.localoss.disk import Spool, fsync_dir, write_atomic
from ossync.localoss.responses import OSSError

log = logging.getLogger("ossync.localoss")
UPLOAD_ID = re.compile(r"^[0-9A-F]{32}$")
PART_JSON = re.compile(r"^([0-9]{1,5})\.json$")
UPLOAD_JSON = "upload.json"


def no_such_upload(upload_id: str) -> OSSError:
    return OSSError(404, "NoSuchUpload", "The specified upload does not exist. The upload ID "
                    "may be invalid, or the upload may have been aborted or completed.",
                    UploadId=upload_id)


@dataclass(frozen=True)
class PartMeta:
    number: int
    size: int
    etag: str  # quoted upper-case hex MD5, as UploadPart answered
    crc64: int
    mtime: float
    data: str  # data file name, in the upload's folder


@dataclass
class Upload:
    upload_id: str
    key: str
    initiated: float
    content_type: str
    user_meta: dict[str, str]
    parts: dict[int, PartMeta] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)  # the object's options, as JSON

    def record(self) -> bytes:
        """upload.json: everything but the parts, which have files of their own."""
        fields = {k: v for k, v in asdict(self).items() if k != "parts"}
        return json.dumps(fields).encode()


def multipart_etag(parts: list[PartMeta]) -> str:
    """`"<MD5 of the parts' binary MD5s>-<count>"`, as OSS and S3 tag a multipart object."""
    digests = b"".join(bytes.fromhex(p.etag.strip('"')) for p in parts)
    return f'"{hashlib.md5(digests, usedforsecurity=False).hexdigest().upper()}-{len(parts)}"'


class Uploads:
    """One bucket's uploads in progress; `lock` is the bucket's."""

    def __init__(self, folder: Path, lock: threading.Lock) -> None:
        self.folder = folder
        self.lock = lock
        self.index: dict[str, Upload] = {}

    # --- start up ------------------------------------------------------------------

    def load(self) -> None:
        """Read every upload back; delete what a crash or an abort left half-done."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for path in self.folder.iterdir():
            upload = self._read(path) if UPLOAD_ID.match(path.name) else None
            if upload is not None:
                self.index[upload.upload_id] = upload
            elif path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def _read(self, path: Path) -> Upload | None:
        try:
            upload = Upload(**json.loads((path / UPLOAD_JSON).read_text("utf-8")))
        except (OSError, ValueError, TypeError):
            return None
        if upload.upload_id != path.name:
            return None
        upload.parts = {}
        for part_path in path.glob("*.json"):
            part = self._read_part(path, part_path)
            if part is not None:
                upload.parts[part.number] = part
        live = {p.data for p in upload.parts.values()} | {UPLOAD_JSON}
        for stale in path.iterdir():  # unreferenced data, unfinished JSON
            if stale.name not in live and not PART_JSON.match(stale.name):
                stale.unlink(missing_ok=True)
        return upload

    @staticmethod
    def _read_part(folder: Path, path: Path) -> PartMeta | None:
        if not PART_JSON.match(path.name):
            return None
        try:
            part = PartMeta(**json.loads(path.read_text("utf-8")))
        except (ValueError, TypeError):
            log.warning("local-oss: ignoring unreadable part metadata %s", path)
            return None
        if f"{part.number}.json" != path.name or not (folder / part.data).exists():
            path.unlink(missing_ok=True)  # its data went into an object, or never landed
            return None
        return part

    # --- the operations ------------------------------------------------------------

    def create(self, key: str, content_type: str, user_meta: dict[str, str],
               extras: dict[str, Any] | None = None) -> Upload:
        now = time.time_ns()
        upload = Upload(f"{now:016X}{secrets.token_hex(8).upper()}", key, now / 1e9,
                        content_type, user_meta, {}, dict(extras or {}))
        folder = self.folder / upload.upload_id
        folder.mkdir()
        write_atomic(folder / UPLOAD_JSON, upload.record())
        fsync_dir(self.folder)
        with self.lock:
            self.index[upload.upload_id] = upload
        return upload

    def check(self, upload_id: str, key: str) -> None:
        """Fail early (before a part's bytes are read) for an unknown upload."""
        with self.lock:
            self.find_locked(upload_id, key)

    def add_part(self, upload_id: str, key: str, number: int, spool: Spool) -> PartMeta:
        """Make the spooled bytes part `number`, replacing an earlier one."""
        spool.finish()
        folder = self.folder / upload_id
        part = PartMeta(number, spool.size, spool.etag, spool.crc.value, time.time(),
                        f"{number}.{uuid.uuid4().hex}.data")
        with self.lock:
            try:
                upload = self.find_locked(upload_id, key)
            except OSSError:
                spool.discard()
                raise
            os.replace(spool.path, folder / part.data)
            write_atomic(folder / f"{number}.json", json.dumps(asdict(part)).encode())
            old = upload.parts.get(number)
            upload.parts[number] = part
        if old is not None:
            (folder / old.data).unlink(missing_ok=True)
        return part

    def abort(self, upload_id: str, key: str) -> None:
        with self.lock:
            upload = self.find_locked(upload_id, key)
            self.forget_locked(upload)
        self.remove(upload)

    def get(self, upload_id: str, key: str) -> Upload:
        """A copy of the upload and its parts, taken under the lock (for listings)."""
        with self.lock:
            upload = self.find_locked(upload_id, key)
            return Upload(upload.upload_id, upload.key, upload.initiated, upload.content_type,
                          dict(upload.user_meta), dict(upload.parts))

    def snapshot(self) -> list[Upload]:
        """The uploads in progress, sorted by key, then by start (= by id)."""
        with self.lock:
            uploads = list(self.index.values())
        return sorted(uploads, key=lambda u: (u.key, u.upload_id))

    # --- pieces for the bucket's CompleteMultipartUpload ---------------------------

    def find_locked(self, upload_id: str, key: str) -> Upload:
        upload = self.index.get(upload_id) if UPLOAD_ID.match(upload_id) else None
        if upload is None or upload.key != key:
            raise no_such_upload(upload_id)
        return upload

    def data_path(self, upload: Upload, part: PartMeta) -> Path:
        return self.folder / upload.upload_id / part.data

    def forget_locked(self, upload: Upload) -> None:
        """The upload is gone from here on: drop it and its upload.json (the commit)."""
        del self.index[upload.upload_id]
        folder = self.folder / upload.upload_id
        (folder / UPLOAD_JSON).unlink(missing_ok=True)
        fsync_dir(folder)

    def remove(self, upload: Upload) -> None:
        """Delete what is left of a forgotten upload (parts nobody listed)."""
        shutil.rmtree(self.folder / upload.upload_id, ignore_errors=True)
