"""Small in-memory stand-ins for the ledger's worker-side contracts (`Queue`,
`Checkpoints`), so a worker's every outcome can be checked in milliseconds; and a store
that answers with a chosen fault. The real parts (SQLite, PostgreSQL, the local endpoint)
are tested on their own; these only make the worker's decisions visible."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from ossync.ledger import FileRow, MultipartRow, Outcome, Upload, Uploaded
from ossync.ledger.outcomes import Aliased
from ossync.targets import ObjectInfo, ObjectOptions, UploadResult
from ossync.targets.local import LocalTarget
from ossync.targets.multipart import Journal, Part


def row_for(path: Path, folder: str = "drop", **changes: object) -> FileRow:
    """A claimed row as the queue hands it out, for a file as it is on disk now."""
    st = path.lstat()
    base = FileRow(id=1, path=str(path), folder=folder, size=st.st_size,
                   mtime_ns=st.st_mtime_ns, state="uploading", attempts=0, next_attempt=1.0,
                   last_error=None, sha256=None, pending_key=None, upload_id=None,
                   seen_at="t", updated_at="t", host="h", claimed_by="h")
    return replace(base, **changes)  # type: ignore[arg-type]


@dataclass
class FakeQueue:
    """A `Queue`: records each outcome; `uploads` are the objects it knows of."""

    host: str = "h"
    outcomes: list[tuple[FileRow, Outcome]] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    intents: list[tuple[str, str]] = field(default_factory=list)  # (sha256, key)
    owed: list[str | None] = field(default_factory=list)  # each intent's tagging owed
    held: set[tuple[str, str]] = field(default_factory=set)
    busy: set[str] = field(default_factory=set)  # sha256s another worker holds
    unseen: bool = False  # look-ups miss every upload (another sender's lands later)

    def next_row(self, stop: threading.Event) -> FileRow | None:
        return None

    def notify(self) -> None:
        pass

    def claim_content(self, bucket: str, sha256: str, *, durable: bool = False) -> bool:
        if sha256 in self.busy or (bucket, sha256) in self.held:
            return False
        self.held.add((bucket, sha256))
        return True

    def release_content(self, bucket: str, sha256: str) -> None:
        self.held.discard((bucket, sha256))

    def intend(self, row: FileRow, *, sha256: str, key: str,
               tagging: str | None = None) -> None:
        self.intents.append((sha256, key))
        self.owed.append(tagging)

    def stored(self, bucket: str, sha256: str, sent_sha256: str | None = None
               ) -> Upload | None:
        return None if self.unseen else self._known(bucket, sha256, sent_sha256)

    def _known(self, bucket: str, sha256: str, sent_sha256: str | None) -> Upload | None:
        return next((u for u in self.uploads if (u.bucket, u.sha256) == (bucket, sha256)
                     and sent_sha256 in (None, u.sent_sha256)), None)

    def upload_by_id(self, upload_id: int) -> Upload | None:
        return next((u for u in self.uploads if u.id == upload_id), None)

    def settle(self, row: FileRow, outcome: Outcome) -> Upload | None:
        self.outcomes.append((row, outcome))
        if isinstance(outcome, Aliased):
            return outcome.upload
        if not isinstance(outcome, Uploaded):
            return None
        known = self._known(outcome.bucket, outcome.sha256, None) if outcome.dedupe else None
        if known is None:
            known = upload_of(outcome, len(self.uploads) + 1, row.path)
            self.uploads.append(known)
        self.held.discard((outcome.bucket, outcome.sha256))
        return known

    @property
    def last(self) -> Outcome:
        assert self.outcomes, "no outcome was recorded"
        return self.outcomes[-1][1]


def upload_of(outcome: Uploaded, upload_id: int, path: str) -> Upload:
    result = outcome.result
    sent = outcome.content
    return Upload(id=upload_id, bucket=outcome.bucket, key=result.key, url=result.url,
                  sha256=outcome.sha256, size=result.size, crc64=str(result.crc64),
                  etag=result.etag, content_type=outcome.content_type, path=path,
                  folder="drop", uploaded_at="t", request_id=None, host="h",
                  sent_sha256=outcome.sha256 if sent is None else sent.sent_sha256)


class NoCheckpoints:
    """`Checkpoints` for a store that never goes in parts (the local target)."""

    def multipart_of(self, host: str, path: str) -> tuple[MultipartRow, list[Part]] | None:
        return None

    def multipart_begin(self, *, host: str, path: str, bucket: str, key: str, sha256: str,
                        size: int, part_size: int) -> int:
        raise AssertionError("no multipart upload expected")

    def multipart_started(self, record_id: int, upload_id: str) -> None:
        raise AssertionError("no multipart upload expected")

    def multipart_part_done(self, record_id: int, part: Part) -> None:
        raise AssertionError("no multipart upload expected")

    def multipart_end(self, record_id: int) -> None:
        raise AssertionError("no multipart upload expected")

    def multipart_rows(self, host: str) -> list[MultipartRow]:
        return []


class FaultyStore(LocalTarget):
    """The real local target, with a fault to inject: `fail` is raised by the next
    upload (then cleared); `crc` replaces the CRC-64 the upload reports."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.fail: Exception | None = None
        self.crc: int | None = None
        self.uploaded: list[str] = []
        self.deleted: list[str] = []

    def upload(self, path: Path, key: str, *, content_type: str,
               journal: Journal | None = None,
               options: ObjectOptions | None = None) -> UploadResult:
        if self.fail is not None:
            fault, self.fail = self.fail, None
            raise fault
        result = super().upload(path, key, content_type=content_type, journal=journal,
                                options=options)
        self.uploaded.append(key)
        return result if self.crc is None else replace(result, crc64=self.crc)

    def delete(self, key: str) -> None:
        self.deleted.append(key)
        super().delete(key)

    def head(self, key: str) -> ObjectInfo | None:
        return super().head(key)
