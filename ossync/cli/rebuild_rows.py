"""What one object tells a rebuild: the `uploads` row its record describes, and the
`files` row of the path it came from — placed under this config's watch folder of the
same label (or at the absolute path the record kept), and checked against the disk: a
file still there with the recorded content (by size and mtime, else by its SHA-256) is
recognised and will not be sent again; one whose content changed gets no row, so the
daemon uploads the new content; one that is gone keeps its row, as the lost ledger had.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ossync.cli.heads import Answer
from ossync.config import WatchConfig
from ossync.core.chunks import chunks
from ossync.core.objects import Listed, ObjectInfo
from ossync.core.record import ObjectRecord, RecordError
from ossync.ledger import FileRow, Upload, now_text

ON_DISK, RECOGNISED, GONE, CHANGED, ELSEWHERE = (
    "on disk", "recognised on disk", "gone from disk", "changed on disk since",
    "another host's")


@dataclass(frozen=True)
class Finding:
    """An object left out (or a file row left out), with why: one line of the report."""

    kind: str  # foreign, unreadable, differs, error, unplaced, changed
    key: str
    detail: str


@dataclass(frozen=True)
class Planned:
    upload: Upload
    file: FileRow | None
    disk: str  # ON_DISK, RECOGNISED, GONE, CHANGED, ELSEWHERE
    finding: Finding | None = None  # said alongside: a file row not written, and why


class Rows:
    """Turns listed objects and their HEADs into ledger rows, numbering them from the
    ids the ledger has used."""

    def __init__(self, *, bucket: str, host: str, folders: Mapping[str, WatchConfig],
                 url_for: Callable[[str], str], ids: tuple[int, int], all_hosts: bool) -> None:
        self.bucket, self.host, self.folders = bucket, host, folders
        self.url_for = url_for
        self.upload_id, self.file_id = ids
        self.all_hosts = all_hosts

    def of(self, listed: Listed, answer: Answer) -> Planned | Finding:
        if answer.error is not None:
            return Finding("error", listed.key, str(answer.error))
        info = answer.info
        if info is None:
            return Finding("error", listed.key, "listed, then gone before its HEAD")
        try:
            record = ObjectRecord.from_metadata(info.metadata)
        except RecordError as exc:
            return Finding("unreadable", listed.key, str(exc))
        if record is None:
            return Finding("foreign", listed.key, "no ossync record: left out")
        problem = _differs(record, info)
        if problem:
            return Finding("differs", listed.key, problem)
        return self._planned(listed, info, record)

    def _planned(self, listed: Listed, info: ObjectInfo, record: ObjectRecord) -> Planned:
        folder = self.folders.get(record.folder)
        path = record.abspath or (os.path.join(str(folder.path), *record.path.split("/"))
                                  if folder is not None and record.path else None)
        stamp = info.last_modified or listed.last_modified or now_text()
        self.upload_id += 1
        upload = Upload(
            id=self.upload_id, bucket=self.bucket, key=listed.key, url=self.url_for(listed.key),
            sha256=record.sha256, size=record.size, crc64=str(record.crc64), etag=info.etag,
            content_type=info.content_type, path=path or record.path or "",
            folder=record.folder, uploaded_at=stamp, request_id=None, host=record.host,
            sent_sha256=record.sent_sha256 or record.sha256, sent_size=info.size,
            sent_crc64=str(record.sent_crc64 if record.sent_sha256 else record.crc64),
            strip_level=record.strip or "none")
        if path is None:
            why = (f"watch folder {record.folder!r} is not in this config" if folder is None
                   else "the record has no path (it did not fit the store's metadata)")
            return Planned(upload, None, GONE, Finding("unplaced", listed.key,
                                                       f"{why}: upload recorded, no file row"))
        if record.host != self.host and not self.all_hosts:
            return Planned(upload, None, ELSEWHERE)
        disk, size, mtime_ns = self._on_disk(record, path)
        if disk == CHANGED:
            return Planned(upload, None, disk, Finding(
                "changed", listed.key, f"{path} {CHANGED}: left for the daemon to upload anew"))
        self.file_id += 1
        row = FileRow(id=self.file_id, path=path, folder=record.folder, size=size,
                      mtime_ns=mtime_ns, state="uploaded", attempts=0, next_attempt=0.0,
                      last_error=None, sha256=record.sha256, pending_key=None,
                      upload_id=upload.id, seen_at=stamp, updated_at=stamp, host=record.host,
                      grp=folder.group if folder is not None else None)
        return Planned(upload, row, disk)

    def _on_disk(self, record: ObjectRecord, path: str) -> tuple[str, int, int]:
        """(what the disk says, the size and mtime to record)."""
        if record.host != self.host:
            return ELSEWHERE, record.size, record.mtime_ns
        try:
            st = os.lstat(path)
        except OSError:
            return GONE, record.size, record.mtime_ns
        if not stat.S_ISREG(st.st_mode):
            return GONE, record.size, record.mtime_ns
        if (st.st_size, st.st_mtime_ns) == (record.size, record.mtime_ns):
            return ON_DISK, record.size, record.mtime_ns
        if st.st_size == record.size and _sha256(path) == record.sha256:
            return RECOGNISED, st.st_size, st.st_mtime_ns
        return CHANGED, st.st_size, st.st_mtime_ns


def _differs(record: ObjectRecord, info: ObjectInfo) -> str | None:
    """Why the object is not what its record says it holds, or None."""
    if record.sent_sha256 is None and info.size != record.size:
        return f"holds {info.size} bytes, its record says {record.size}"
    want = record.sent_crc64 if record.sent_sha256 else record.crc64
    if info.crc64 is not None and want is not None and info.crc64 != want:
        return f"its CRC-64 is {info.crc64}, its record says {want}"
    return None


def _sha256(path: str) -> str | None:
    sha = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in chunks(fh):
                sha.update(chunk)
    except OSError:
        return None
    return sha.hexdigest()
