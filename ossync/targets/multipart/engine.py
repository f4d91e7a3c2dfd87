"""One big file as a multipart upload: parallel parts, a journal to resume from, and
the same promises as a single POST (nothing partial, nothing twice, verified).

The store-specific requests are a `PartStore` (OSS and S3 each have one); this module
owns the order of things:

1. resume: the journal's checkpoint, if it is for these bytes, is checked against
   the store's own list of parts (ListParts); parts the store holds that the journal
   missed (sent just before a crash) are recognised by their MD5 and kept; a stale
   checkpoint (the file changed, the key changed) is aborted on the store;
2. otherwise InitiateMultipartUpload, refusing to overwrite: a key already taken is
   the store's business (`PartStore.existing`: our own object from a lost answer, or
   KeyTaken);
3. the missing parts, `concurrency` at a time, each written to the journal as it
   lands; nothing new starts once the daemon is stopping;
4. CompleteMultipartUpload (again refusing to overwrite), and the whole object's
   CRC-64 checked against the parts' combined CRC.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from ossync.core.crc64 import crc64_of_parts
from ossync.core.errors import StoreError
from ossync.core.objects import (
    Checkpoint,
    FileChanged,
    KeyTaken,
    Part,
    UploadInterrupted,
    UploadResult,
)
from ossync.core.retry import PARTS, RetryPolicy
from ossync.targets.multipart.documents import PendingUpload
from ossync.targets.multipart.plan import Journal, MultipartSettings, PartPlan, plan_parts
from ossync.targets.reader import digest_slice

log = logging.getLogger("ossync.targets.multipart")


class ObjectExists(Exception):
    """Initiate or Complete met an object under the key (overwrite refused)."""


@dataclass(frozen=True)
class Completed:
    etag: str | None
    crc64: int | None  # the stored object's CRC-64, when the store returns it
    request_id: str | None


class PartStore(Protocol):
    """The multipart requests of one store, signed and with errors mapped."""

    min_part_size: int

    def initiate(self, key: str, content_type: str,
                 headers: Mapping[str, str] | None = None) -> str:
        """A new upload id; ObjectExists if the key is taken. `headers` carry the
        object's options (metadata, tags, storage class: the store's own spelling)."""
        ...

    def upload_part(self, key: str, upload_id: str, number: int, fh: BinaryIO,
                    length: int) -> Part:
        """Send `length` bytes from where `fh` stands; the Part carries their CRC-64."""
        ...

    def list_parts(self, key: str, upload_id: str) -> list[Part] | None:
        """Every part the store holds for the upload; None: no such upload (any more)."""
        ...

    def complete(self, key: str, upload_id: str, parts: list[Part]) -> Completed:
        """Join the parts; ObjectExists if the key was taken meanwhile."""
        ...

    def abort(self, key: str, upload_id: str) -> None:
        """Drop an upload and its parts (no error if it is gone already)."""
        ...

    def list_uploads(self, prefix: str) -> list[PendingUpload]: ...

    def existing(self, path: Path, key: str, size: int, parts: list[Part] | None
                 ) -> UploadResult:
        """The key holds an object: ours (the same bytes: `already_present`) or KeyTaken.
        `parts`, when they cover the whole file, spare reading it again."""
        ...

    def url_for(self, key: str) -> str: ...

    def delete(self, key: str) -> None: ...


class MemoryJournal:
    """For callers with nowhere to keep progress (`ossync put`): nothing to resume."""

    stop: threading.Event | None = None

    def __init__(self, sha256: str = "") -> None:
        self.sha256 = sha256

    def load(self) -> Checkpoint | None:
        return None

    def begin(self, key: str, size: int, part_size: int) -> None:
        pass

    def started(self, upload_id: str) -> None:
        pass

    def part_done(self, part: Part) -> None:
        pass

    def end(self) -> None:
        pass


class MultipartUploader:
    def __init__(self, store: PartStore, settings: MultipartSettings,
                 retry: RetryPolicy = PARTS) -> None:
        self.store = store
        self.settings = settings
        self.retry = retry  # for one part; then the whole file's (the worker's) takes over

    def wants(self, size: int) -> bool:
        return size >= self.settings.threshold

    def upload(self, path: Path, key: str, content_type: str, journal: Journal | None,
               headers: Mapping[str, str] | None = None) -> UploadResult:
        """Send the file as parts under `key` (`headers`, the object's options, go with
        Initiate); raise KeyTaken, FileChanged, StoreError, UploadInterrupted (stopping:
        the journal keeps what is done)."""
        journal = journal or MemoryJournal()
        before = os.stat(path)
        try:
            plan = plan_parts(before.st_size, self.settings.part_size, self.store.min_part_size)
        except ValueError as exc:
            raise StoreError("upload", key, "EntityTooLarge", str(exc)) from None
        upload_id, done, known = self._resume(path, key, plan, journal)
        if upload_id is None:
            journal.begin(key, plan.size, plan.part_size)
            try:
                upload_id = self.store.initiate(key, content_type, headers)
            except ObjectExists:
                journal.end()
                return self.store.existing(path, key, plan.size, known)
            journal.started(upload_id)
            log.debug("%s: upload %s started, %d part(s) of %d bytes", key, upload_id,
                      plan.count, plan.part_size)
        try:
            parts = self._send_parts(path, key, upload_id, plan, done, journal)
            after = os.stat(path)
            if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
                raise FileChanged("file changed while its parts were sent")
            try:
                answer = self.store.complete(key, upload_id, parts)
            except ObjectExists:
                result = self.store.existing(path, key, plan.size, parts)
                self._abort(key, upload_id, journal)
                return result
        except (FileChanged, KeyTaken):
            self._abort(key, upload_id, journal)
            raise
        journal.end()
        return self._verified(key, plan, parts, answer)

    # --- resume --------------------------------------------------------------

    def _resume(self, path: Path, key: str, plan: PartPlan, journal: Journal
                ) -> tuple[str | None, dict[int, Part], list[Part] | None]:
        """(upload id, parts the store holds for it, all parts of an upload that has
        vanished — completed, its answer lost) from the journal's checkpoint."""
        cp = journal.load()
        if cp is None:
            return None, {}, None
        fits = (cp.key, cp.sha256, cp.size, cp.part_size) == (
            key, journal.sha256, plan.size, plan.part_size)
        if not fits or cp.upload_id is None:
            self.abandon(cp.key, cp.upload_id)
            journal.end()
            return None, {}, None
        listed = self.store.list_parts(key, cp.upload_id)
        if listed is None:  # completed (the answer was lost) or aborted meanwhile
            journal.end()
            whole = [cp.parts[n] for n in range(1, plan.count + 1) if n in cp.parts]
            return None, {}, whole if len(whole) == plan.count else None
        done = self._kept(path, plan, cp, listed, journal)
        log.info("%s: resuming upload %s, %d of %d part(s) already stored", key,
                 cp.upload_id, len(done), plan.count)
        return cp.upload_id, done, None

    def _kept(self, path: Path, plan: PartPlan, cp: Checkpoint, listed: list[Part],
              journal: Journal) -> dict[int, Part]:
        """The listed parts that are ours: as the journal recorded them, or (sent just
        before a crash, never journaled) with the MD5 of our bytes at that place."""
        done: dict[int, Part] = {}
        with path.open("rb") as fh:
            for part in listed:
                if not 1 <= part.number <= plan.count:
                    continue
                offset, length = plan.span(part.number)
                mine = cp.parts.get(part.number)
                if mine is not None and mine.size == part.size and mine.same_etag(part.etag):
                    done[part.number] = mine
                elif part.size == length:
                    md5, crc = digest_slice(fh, offset, length)
                    if part.same_etag(md5) and part.crc64 in (None, crc):
                        done[part.number] = Part(part.number, length, part.etag, crc)
                        journal.part_done(done[part.number])
        return done

    def abandon(self, key: str, upload_id: str | None) -> None:
        """Abort an upload left behind. Without an upload id (the last attempt ended
        while starting it) every open upload of that key is taken as ours: the key was
        written down before the upload began, and it names the content."""
        if upload_id is not None:
            self.store.abort(key, upload_id)
            return
        for pending in self.store.list_uploads(key):
            if pending.key == key:
                self.store.abort(pending.key, pending.upload_id)

    def _abort(self, key: str, upload_id: str, journal: Journal) -> None:
        try:
            self.store.abort(key, upload_id)
        except StoreError as err:  # the sweep tries again later
            log.warning("could not abort upload %s of %s: %s", upload_id, key, err)
            return
        journal.end()

    # --- parts ---------------------------------------------------------------

    def _send_parts(self, path: Path, key: str, upload_id: str, plan: PartPlan,
                    done: dict[int, Part], journal: Journal) -> list[Part]:
        """Send the missing parts, `concurrency` at a time; the first failure stops new
        ones, waits for those in flight (journaled: a retry keeps them) and is raised."""
        todo = iter([n for n in range(1, plan.count + 1) if n not in done])
        workers = max(1, min(self.settings.concurrency, plan.count - len(done)))
        failure: BaseException | None = None
        # Named after the calling worker, whose progress the health check reads from
        # its own and these threads' I/O.
        prefix = f"{threading.current_thread().name}-part"
        with ThreadPoolExecutor(workers, thread_name_prefix=prefix) as pool:
            running: set[Future[Part]] = set()
            while True:
                while failure is None and len(running) < workers and not _stopping(journal):
                    number = next(todo, None)
                    if number is None:
                        break
                    running.add(pool.submit(self._one_part, path, key, upload_id, plan,
                                            number, journal.stop))
                if not running:
                    break
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    try:
                        part = future.result()
                    except BaseException as exc:  # kept, raised once the others land
                        failure = failure or exc
                        continue
                    done[part.number] = part
                    journal.part_done(part)
        if failure is not None:
            raise failure
        if len(done) < plan.count:
            raise UploadInterrupted(f"stopping with {len(done)} of {plan.count} part(s) of "
                                    f"{key} sent; the rest follow after the restart")
        return [done[n] for n in range(1, plan.count + 1)]

    def _one_part(self, path: Path, key: str, upload_id: str, plan: PartPlan,
                  number: int, stop: threading.Event | None) -> Part:
        """Send one part; a retryable failure is sent again as `self.retry` says, and a
        stop during the wait ends it at once (the journal keeps the other parts)."""
        offset, length = plan.span(number)
        failures = 0
        while True:
            with path.open("rb") as fh:
                fh.seek(offset)
                try:
                    return self.store.upload_part(key, upload_id, number, fh, length)
                except StoreError as err:
                    failures += 1
                    if not (err.retryable and self.retry.again(failures)):
                        raise
                    log.info("part %d of %s failed (%s); sending it again", number, key,
                             err.code)
            if not self.retry.wait(failures, stop):
                raise UploadInterrupted(f"stopping before part {number} of {key} was sent "
                                        "again; it follows after the restart")

    def _verified(self, key: str, plan: PartPlan, parts: list[Part], answer: Completed
                  ) -> UploadResult:
        """The stored object's CRC-64 must be the parts' combined CRC: else delete it."""
        crc = crc64_of_parts((_crc(p), p.size) for p in parts)
        if answer.crc64 is not None and answer.crc64 != crc:
            self.store.delete(key)
            raise StoreError("upload", key, "CrcMismatch", f"stored CRC-64 {answer.crc64} "
                             f"differs from the parts' {crc}", retryable=True,
                             hint="the data was damaged in transit; will retry")
        return UploadResult(key=key, url=self.store.url_for(key), size=plan.size,
                            etag=answer.etag, crc64=crc, request_id=answer.request_id)


def _stopping(journal: Journal) -> bool:
    return journal.stop is not None and journal.stop.is_set()


def _crc(part: Part) -> int:
    if part.crc64 is None:
        raise AssertionError(f"part {part.number} has no CRC-64")  # every kept part has one
    return part.crc64
