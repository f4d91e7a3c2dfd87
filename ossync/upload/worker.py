"""One queue row through the pipeline: settled? → hash → dedupe → key → POST → verify → record.

Every outcome ends in the ledger: uploaded, deferred (not settled, or a
retryable failure with back-off: `Limits.retry`, waited out as the row's due time, so
no worker sleeps), failed (needs a person), skipped (not for upload), or forgotten
(the file vanished). A failure belongs to one file. With replicas, the file read (and
stripped) here is shared with each replica of its folder before the POST
(`Fanout.share_copies`); their own workers (`ossync.upload.replica`) send those bytes.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import tzinfo

from ossync.config import WatchConfig
from ossync.core import failpoints
from ossync.core.beneath import NotBeneath, PinnedFile
from ossync.core.credentials import CredentialsUnavailable
from ossync.core.errors import StoreError
from ossync.core.host import default_host
from ossync.core.objectopts import ObjectOptions, parse_tagging_query, tagging_query
from ossync.core.objects import FileChanged, KeyTaken, UploadInterrupted, UploadResult
from ossync.core.retry import RetryPolicy
from ossync.intake.media import jpeg_complete
from ossync.intake.openfiles import OpenWriters
from ossync.ledger import (
    Aliased,
    Checkpoints,
    Content,
    CopyFacts,
    Deferred,
    Fanout,
    FileRow,
    Queue,
    Settled,
    Upload,
    Uploaded,
    Vanished,
)
from ossync.targets import Target
from ossync.upload.after import after_upload
from ossync.upload.journal import LedgerJournal
from ossync.upload.options import MetadataTooLarge, Place, options_for, owed_tagging
from ossync.upload.outgoing import HELD, CannotStrip, Changed, Outgoing, outgoing
from ossync.upload.prepare import FileFacts, NotAnImage, choose_date, key_for, read_facts

log = logging.getLogger("ossync.upload.worker")
FALLBACK_NAME = "{stem}-{sha256}{ext}"
INCOMPLETE_JPEG_GRACE = 60.0  # a JPEG without its end marker waits this long, then goes
CLAIM_WAIT = 0.5  # seconds a file waits while a worker uploads the same bytes
CREDENTIALS_WAIT = 5.0  # seconds a file waits when no valid credentials are at hand


@dataclass(frozen=True)
class Limits:
    bucket: str
    max_file_size: int
    timezone: tzinfo
    # a whole file's retries: retry_initial_delay doubling to retry_max_delay, with jitter
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    host: str | None = None  # `{host}` in key templates
    # Files this big hold their bytes against other hosts too (one more commit, which a
    # second upload of a big file would cost far more than); smaller ones only here.
    claim_across_hosts_from: int = 64 * 1024 * 1024
    meta_limit: int = 8 * 1024  # bytes of user metadata the store takes (S3: 2 KB)


class NoValidKey(Exception):
    """No valid object key can be made for this file (too long, say)."""


class Worker:
    def __init__(self, queue: Queue, checkpoints: Checkpoints, target: Target, limits: Limits,
                 folders: dict[str, WatchConfig], writers: OpenWriters,
                 stop: threading.Event | None = None, fanout: Fanout | None = None) -> None:
        self.queue = queue
        self.fanout = fanout  # the replicas' copies (None: no replicas)
        self.checkpoints = checkpoints  # a big file's parts, as they land
        self.target = target
        self.limits = limits
        self.folders = folders
        self.writers = writers
        self.stop = stop  # the daemon's: a file in parts stops between parts

    def process(self, row: FileRow) -> None:
        folder = self.folders.get(row.folder)
        if folder is None:
            self.queue.settle(row, Settled("skipped", "its watch folder is no longer configured"))
            return
        try:
            self._process(row, folder)
        except StoreError as err:
            self._store_failed(row, err)
        except CredentialsUnavailable as exc:  # not the file's fault: it waits, not fails
            log.info("%s waits for credentials: %s", row.path, exc)
            self.queue.settle(row, Deferred(CREDENTIALS_WAIT, error=f"held: {exc}"))
        except OSError as exc:
            self._os_failed(row, exc)
        except NoValidKey as exc:
            self._fail(row, f"cannot make an object key: {exc}; shorten the prefix or the "
                       "folder names, or change name:")

    def _process(self, row: FileRow, folder: WatchConfig) -> None:
        try:
            pinned = PinnedFile(str(folder.path), row.path)
        except NotBeneath as exc:
            log.warning("skipped %s: %s (symlinks are never followed)", row.path, exc.strerror)
            self.queue.settle(row, Settled("skipped", f"{exc.strerror}: not followed"))
            return
        with pinned:
            self._pinned(row, folder, pinned)

    def _pinned(self, row: FileRow, folder: WatchConfig, pinned: PinnedFile) -> None:
        """Everything from here reads the one file opened beneath the folder."""
        st = pinned.identity
        waiting = ("it changed since it was seen" if (st.size, st.mtime_ns) != (
            row.size, row.mtime_ns) else "a local process has it open for writing"
            if self.writers.is_open_for_writing(row.path) else None)
        if waiting is not None:
            log.debug("%s waits to settle: %s", row.path, waiting)
            self.queue.settle(row, Deferred(folder.settle_seconds, size=st.size,
                                            mtime_ns=st.mtime_ns))
            return
        if st.size == 0:
            reason = "empty file (0 bytes); it is uploaded if it gets content"
            log.info("skipped %s: %s", row.path, reason)
            self.queue.settle(row, Settled("skipped", reason))
            return
        if st.size > self.limits.max_file_size:
            self._fail(row, f"file is {st.size} bytes, over max_file_size "
                       f"({self.limits.max_file_size})")
            return
        failpoints.hit("worker.pinned", self.stop)
        try:
            facts = read_facts(pinned.read_path, name=os.path.basename(row.path))
        except NotAnImage as exc:
            log.warning("skipped %s: %s", row.path, exc)
            self.queue.settle(row, Settled("skipped", str(exc)))
            return
        except ValueError:
            self.queue.settle(row, Deferred(folder.settle_seconds))
            return
        if self._incomplete_jpeg(facts, folder, st.mtime_ns / 1e9):
            log.debug("%s waits: no JPEG end marker yet", row.path)
            self.queue.settle(row, Deferred(folder.settle_seconds))
            return
        across_hosts = row.grp is not None or facts.size >= self.limits.claim_across_hosts_from
        if not self.queue.claim_content(self.limits.bucket, facts.sha256,
                                        durable=across_hosts):
            self.queue.settle(row, Deferred(CLAIM_WAIT))  # the same bytes are on their way
            return
        try:
            self._strip_and_send(row, folder, facts, pinned)
        finally:
            self.queue.release_content(self.limits.bucket, facts.sha256)

    def _strip_and_send(self, row: FileRow, folder: WatchConfig, facts: FileFacts,
                        pinned: PinnedFile) -> None:
        """strip_metadata: a file that cannot be cleaned waits; it never goes as it is."""
        try:
            sent = outgoing(facts, folder)
        except CannotStrip as exc:
            self._fail(row, f"{HELD}{facts.name}: {exc}")
            return
        except Changed:
            self.queue.settle(row, Deferred(folder.settle_seconds))
            return
        try:
            self._send_or_alias(row, folder, facts, sent, pinned)
        finally:
            sent.discard()

    def _send_or_alias(self, row: FileRow, folder: WatchConfig, facts: FileFacts,
                       sent: Outgoing, pinned: PinnedFile) -> None:
        self._share(row, folder, facts, sent)
        existing = self._duplicate_of(row, folder, facts, sent.sha256)
        if existing is not None:
            self._drop_stray(row, folder, facts, sent, existing)
            self.queue.settle(row, Aliased(existing, facts.size, facts.mtime_ns, facts.sha256))
            log.info("%s has the same content as %s: not uploaded again, %s", row.path,
                     existing.path, existing.url)
            self._after_upload(folder, row, facts, pinned)
            return
        failpoints.hit("worker.hashed", self.stop)
        self._upload(row, folder, facts, sent, pinned)

    def _drop_stray(self, row: FileRow, folder: WatchConfig, facts: FileFacts, sent: Outgoing,
                    existing: Upload) -> None:
        """An interrupted attempt of ours may have stored these bytes under another key
        before the same bytes were recorded from another path: remove that copy. Only a
        row with an earlier attempt (or put back after a crash) costs the HEAD."""
        if row.pending_key:
            if row.sha256 != existing.sha256:
                return
            key = row.pending_key
        elif row.attempts or row.next_attempt == 0:
            key = self._key(row, folder, facts, folder.name)  # what that attempt used
        else:
            return
        if key == existing.key:
            return
        info = self.target.head(key)
        if info is not None and (info.size, info.crc64) == (sent.size, sent.crc64):
            self.target.delete(key)
            log.info("removed %s, a copy left by an interrupted upload of %s", key, row.path)

    def _incomplete_jpeg(self, facts: FileFacts, folder: WatchConfig, mtime: float) -> bool:
        """A scanner that creates the file first writes the JPEG end marker last."""
        if facts.media.content_type != "image/jpeg":
            return False
        if jpeg_complete(facts.tail):  # read along with the hash: no second open
            return False
        if time.time() - mtime < max(INCOMPLETE_JPEG_GRACE, folder.settle_seconds):
            return True
        log.warning("%s has no JPEG end marker; uploading it as it is", facts.name)
        return False

    def _duplicate_of(self, row: FileRow, folder: WatchConfig, facts: FileFacts,
                      sent_sha256: str) -> Upload | None:
        """An object holding the same file, stored as the bytes we would send now (the
        same strip level's result), so a changed strip_metadata never reuses another's."""
        if folder.dedupe == "content":
            return self.queue.stored(self.limits.bucket, facts.sha256, sent_sha256)
        if folder.dedupe == "path" and row.upload_id is not None:
            previous = self.queue.upload_by_id(row.upload_id)
            if previous is not None and (previous.sha256, previous.sent_sha256) == (
                facts.sha256, sent_sha256
            ):
                return previous
        return None

    def _key(self, row: FileRow, folder: WatchConfig, facts: FileFacts, name: str) -> str:
        when = choose_date(facts, folder.date_source, self.limits.timezone)
        rel = folder.relpath(row.path)
        try:
            return key_for(facts, prefix=folder.prefix, name=name, relpath=rel, when=when,
                           folder=folder.label, host=self.limits.host)
        except ValueError as exc:
            raise NoValidKey(str(exc)) from None

    def _upload(self, row: FileRow, folder: WatchConfig, facts: FileFacts,
                sent: Outgoing, pinned: PinnedFile) -> None:
        if row.pending_key and row.sha256 == facts.sha256:
            key = row.pending_key  # an attempt of ours may already have landed there
        else:
            key = self._key(row, folder, facts, folder.name)
        try:
            options = self._options(row, folder, facts, sent)
        except MetadataTooLarge as exc:
            self._fail(row, str(exc))
            return
        for name in (None, FALLBACK_NAME):
            if name is not None:
                key = self._key(row, folder, facts, name)
            if name is not None or not _reproducible(folder):
                # A retry could not work this key out again: write it down first.
                self.queue.intend(row, sha256=facts.sha256, key=key)
            journal = LedgerJournal(self.checkpoints, host=row.host or self.queue.host,
                                    path=row.path, bucket=self.limits.bucket,
                                    sha256=sent.sha256, stop=self.stop)
            try:
                result = owed_tagging(self.target, row, key, sent) or self.target.upload(
                    sent.path, key, content_type=facts.media.content_type, journal=journal,
                    options=options)
            except KeyTaken:
                log.warning("key %s holds other content; trying %s", key, FALLBACK_NAME)
                continue
            except FileChanged:
                self.queue.settle(row, Deferred(folder.settle_seconds))
                return
            except UploadInterrupted as exc:  # stopping: the next start resumes it
                log.info("%s", exc)
                self.queue.settle(row, Deferred(0))
                return
            if result.crc64 != sent.crc64:
                # The bytes sent are not the bytes hashed: the file changed mid-upload.
                self.target.delete(key)
                self.queue.settle(row, Deferred(folder.settle_seconds))
                return
            if result.tagging_owed and not self._tag(row, key, facts, options):
                return
            upload = self._record(row, result, folder, facts, sent)
            if upload.key != key:  # another sender recorded these bytes first: theirs stands
                self.target.delete(key)
                log.info("%s has the same content as %s, recorded meanwhile: our copy %s "
                         "removed, %s", row.path, upload.path, key, upload.url)
            else:
                log.info("uploaded %s -> %s", row.path, upload.url)
            failpoints.hit("worker.sent", self.stop)
            self._after_upload(folder, row, facts, pinned)
            return
        self._fail(row, f"both {key!r} and the short-name key hold other content")

    def _options(self, row: FileRow, folder: WatchConfig, facts: FileFacts,
                 sent: Outgoing) -> ObjectOptions:
        rel = folder.relpath(row.path)
        place = Place(rel, row.path, folder.label, self.limits.host or default_host(),
                      choose_date(facts, folder.date_source, self.limits.timezone))
        return options_for(folder.objects, facts, sent.content, place,
                           limit=self.limits.meta_limit, tz=self.limits.timezone)

    def _tag(self, row: FileRow, key: str, facts: FileFacts, options: ObjectOptions) -> bool:
        """Tags the upload could not carry: owed in the ledger first, then set, so a crash
        between the two ends in tagging the stored object, not a second upload. False
        when the daemon stopped in between (the next start finishes it)."""
        tags = options.tags
        if row.tagging_owed and row.pending_key == key:
            tags = tuple(parse_tagging_query(row.tagging_owed).items())
        self.queue.intend(row, sha256=facts.sha256, key=key, tagging=tagging_query(tags))
        if failpoints.hit("worker.posted", self.stop):
            self.queue.settle(row, Deferred(0))
            return False
        self.target.tag(key, tags)
        return True

    def _record(self, row: FileRow, result: UploadResult, folder: WatchConfig,
                facts: FileFacts, sent: Outgoing) -> Upload:
        """One transaction: the upload, the row, and the content claim's release.
        `sent.content` is None with strip_metadata off: the bytes sent are the file's."""
        upload = self.queue.settle(row, Uploaded(
            result, self.limits.bucket, facts.sha256, facts.media.content_type,
            facts.mtime_ns, sent.content, dedupe=folder.dedupe == "content"))
        assert upload is not None
        return upload

    def _after_upload(self, folder: WatchConfig, row: FileRow, facts: FileFacts,
                      pinned: PinnedFile) -> None:
        after_upload(folder, row.path, pinned, size=facts.size, mtime_ns=facts.mtime_ns,
                     sha256=facts.sha256, file_id=row.id, fanout=self.fanout)

    def _share(self, row: FileRow, folder: WatchConfig, facts: FileFacts, sent: Outgoing
               ) -> None:
        """The folder's replicas get a copy each of what was read (and stripped) here."""
        if self.fanout is None or not folder.replicas:
            return
        content = sent.content or Content.unchanged(facts.sha256, facts.size, facts.crc64)
        self.fanout.share_copies(row, CopyFacts(facts.size, facts.mtime_ns, content,
                                                facts.media.content_type), folder.replicas)

    # --- failures ------------------------------------------------------------

    def _store_failed(self, row: FileRow, err: StoreError) -> None:
        if err.retryable:
            delay = self.limits.retry.delay(row.attempts + 1)
            log.warning("upload of %s failed, retrying in %.0fs: %s", row.path, delay, err)
            self.queue.settle(row, Deferred(delay, error=str(err), count_attempt=True,
                                            code=err.code, by_store=True))
        else:
            self._fail(row, str(err))

    def _os_failed(self, row: FileRow, exc: OSError) -> None:
        if exc.errno == errno.ENOENT:
            log.info("%s vanished before upload", row.path)
            self.queue.settle(row, Vanished())
        elif exc.errno in (errno.EACCES, errno.EPERM):
            self._fail(row, f"cannot read: {exc.strerror}; give the ossync user read access")
        else:
            delay = self.limits.retry.delay(row.attempts + 1)
            log.warning("cannot read %s, retrying in %.0fs: %s", row.path, delay, exc)
            self.queue.settle(row, Deferred(delay, error=f"cannot read: {exc.strerror or exc}",
                                            count_attempt=True,
                                            code=errno.errorcode.get(exc.errno or 0)))

    def _fail(self, row: FileRow, reason: str) -> None:
        log.error("failed %s: %s", row.path, reason)
        self.queue.settle(row, Settled("failed", reason, attempts=1))


def _reproducible(folder: WatchConfig) -> bool:
    """Whether a retry works out the same key again: all but an upload-time `{date}`."""
    return folder.date_source != "upload" or "{date" not in folder.prefix + folder.name
