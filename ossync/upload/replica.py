"""One copy to one replica: the file opened beneath its folder again, the very bytes the
primary's worker hashed (and stripped) once, sent to the replica, verified by its CRC-64,
recorded in the copy's own row.

The primary's worker read the file and wrote the copy (`Fanout.share_copies`: the
content's hashes, the bytes to send, their CRC-64); this worker checks that the file is
still that version (size and mtime), makes the same bytes again (the file itself, or the
same strip level's cleaned copy, whose SHA-256 must be the one recorded) and sends them
under the replica's key. Every outcome ends in the copy's row: stored, deferred with its
own back-off (a replica that is down never delays the primary or another replica),
failed, skipped, or forgotten. Nothing here sleeps.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from dataclasses import dataclass, field

from ossync.config import WatchConfig
from ossync.config.objects import ObjectSettings
from ossync.core.beneath import NotBeneath, PinnedFile
from ossync.core.credentials import CredentialsUnavailable
from ossync.core.errors import StoreError
from ossync.core.host import default_host
from ossync.core.objectopts import ObjectOptions, parse_tagging_query, tagging_query
from ossync.core.objects import FileChanged, KeyTaken, UploadInterrupted
from ossync.intake.media import SNIFF_BYTES, MediaType, sniff_with_name
from ossync.ledger import (
    Checkpoints,
    Copied,
    CopyAliased,
    CopyOutcome,
    CopyQueue,
    CopyRow,
    Deferred,
    Settled,
    Vanished,
    copy_claim,
)
from ossync.targets import Target
from ossync.upload.after import after_upload
from ossync.upload.journal import LedgerJournal
from ossync.upload.options import MetadataTooLarge, Place, options_for, owed_tagging
from ossync.upload.outgoing import CannotStrip, Changed, Outgoing
from ossync.upload.prepare import FileFacts, choose_date, key_for
from ossync.upload.strip import strip_file
from ossync.upload.worker import (
    CLAIM_WAIT,
    CREDENTIALS_WAIT,
    FALLBACK_NAME,
    Limits,
    NoValidKey,
)

log = logging.getLogger("ossync.upload.replica")


@dataclass(frozen=True)
class Replica:
    """What a replica's workers know of their destination (from its `replicas:` entry)."""

    name: str
    bucket: str  # as its copies record it: the bucket, or a `local:` replica's folder
    prefix: str | None = None  # None: each folder's
    key_name: str | None = None  # None: each folder's name template
    objects: ObjectSettings = field(default_factory=ObjectSettings)
    meta_limit: int = 8 * 1024


class NotTheSameBytes(Exception):
    """The bytes made now are not the ones the primary's worker recorded for this copy."""


class CopyWorker:
    def __init__(self, queue: CopyQueue, checkpoints: Checkpoints, target: Target,
                 replica: Replica, limits: Limits, folders: dict[str, WatchConfig],
                 stop: threading.Event | None = None) -> None:
        self.queue = queue
        self.checkpoints = checkpoints
        self.target = target
        self.replica = replica
        self.limits = limits
        self.folders = folders  # the daemon's: a reload changes them in place
        self.stop = stop

    def process(self, copy: CopyRow) -> None:
        folder = self.folders.get(copy.folder)
        if folder is None or self.replica.name not in folder.replicas:
            log.info("%s is no longer copied to %s: forgotten", copy.path, self.replica.name)
            self._settle(copy, Vanished())
            return
        try:
            self._process(copy, folder)
        except StoreError as err:
            self._store_failed(copy, err)
        except CredentialsUnavailable as exc:
            self._settle(copy, Deferred(CREDENTIALS_WAIT, error=f"held: {exc}"))
        except OSError as exc:
            self._os_failed(copy, exc)
        except (NoValidKey, CannotStrip, NotTheSameBytes, MetadataTooLarge) as exc:
            self._fail(copy, str(exc))

    def _process(self, copy: CopyRow, folder: WatchConfig) -> None:
        try:
            pinned = PinnedFile(str(folder.path), copy.path)
        except NotBeneath as exc:
            self._settle(copy, Settled("skipped", f"{exc.strerror}: not followed"))
            return
        with pinned:
            if (pinned.identity.size, pinned.identity.mtime_ns) != (copy.size, copy.mtime_ns):
                # another version: the primary's worker reads it and shares it again
                self._settle(copy, Deferred(folder.settle_seconds))
                return
            if self._aliased(copy, folder):
                self._after(copy, folder, pinned)
                return
            claim = copy_claim(self.replica.name)
            durable = copy.grp is not None or copy.size >= self.limits.claim_across_hosts_from
            if not self.queue.claim_content(claim, copy.sha256, durable=durable):
                self._settle(copy, Deferred(CLAIM_WAIT))
                return
            try:
                self._send(copy, folder, pinned)
            finally:
                self.queue.release_content(claim, copy.sha256)

    def _aliased(self, copy: CopyRow, folder: WatchConfig) -> bool:
        """The replica already holds these bytes (another file's copy): recorded against
        that object, nothing sent."""
        if folder.dedupe != "content":
            return False
        existing = self.queue.copy_stored(self.replica.name, copy.sha256, copy.sent_sha256)
        if existing is None or existing.id == copy.id:
            return False
        self._settle(copy, CopyAliased(existing))
        log.info("%s: %s already holds the same content (%s)", copy.path, self.replica.name,
                 existing.url)
        return True

    def _send(self, copy: CopyRow, folder: WatchConfig, pinned: PinnedFile) -> None:
        facts = _facts(copy, pinned)
        try:
            sent = self._bytes(copy, facts)
        except Changed:
            self._settle(copy, Deferred(folder.settle_seconds))
            return
        try:
            self._upload(copy, folder, facts, sent, pinned)
        finally:
            sent.discard()

    @staticmethod
    def _bytes(copy: CopyRow, facts: FileFacts) -> Outgoing:
        """The bytes the primary's worker recorded: the file, or its cleaned copy made
        again (stripping is a function of the file's bytes), checked by SHA-256."""
        content = copy.facts
        if copy.sent_sha256 == copy.sha256:
            return Outgoing(facts.path, copy.sha256, copy.size, int(copy.sent_crc64 or 0),
                            content)
        made = strip_file(facts.path, copy.content_type, copy.strip_level, sha256=copy.sha256)
        if made is None or made.sha256 != copy.sent_sha256:
            if made is not None:
                made.discard()
            raise NotTheSameBytes(
                f"stripping {copy.strip_level} made other bytes than the primary's copy "
                "(was ossync upgraded meanwhile?); `ossync retry` after it is uploaded again")
        return Outgoing(made.path, made.sha256, made.size, made.crc64, content, made)

    def _upload(self, copy: CopyRow, folder: WatchConfig, facts: FileFacts, sent: Outgoing,
                pinned: PinnedFile) -> None:
        name = self.replica.key_name or folder.name
        key = copy.pending_key or self._key(copy, folder, facts, name)
        options = self._options(copy, folder, facts)
        for fallback in (False, True):
            if fallback:
                key = self._key(copy, folder, facts, FALLBACK_NAME)
            if fallback or not self._reproducible(folder, name):
                self.queue.intend_copy(copy, key=key)
            journal = LedgerJournal(self.checkpoints, host=copy.host or self.queue.host,
                                    path=copy.path, bucket=self.replica.bucket,
                                    sha256=sent.sha256, stop=self.stop,
                                    destination=self.replica.name)
            try:
                result = owed_tagging(self.target, copy, key, sent) or self.target.upload(
                    sent.path, key, content_type=copy.content_type, journal=journal,
                    options=options)
            except KeyTaken:
                log.warning("%s: key %s holds other content; trying %s", self.replica.name,
                            key, FALLBACK_NAME)
                continue
            except FileChanged:
                self._settle(copy, Deferred(folder.settle_seconds))
                return
            except UploadInterrupted as exc:
                log.info("%s", exc)
                self._settle(copy, Deferred(0))
                return
            if result.crc64 != sent.crc64:  # the file changed while it was sent
                self.target.delete(key)
                self._settle(copy, Deferred(folder.settle_seconds))
                return
            if result.tagging_owed:
                self._tag(copy, key, options)
            self._settle(copy, Copied(result, self.replica.bucket))
            log.info("copied %s -> %s: %s", copy.path, self.replica.name, result.url)
            self._after(copy, folder, pinned)
            return
        self._fail(copy, f"both {key!r} and the short-name key hold other content")

    def _key(self, copy: CopyRow, folder: WatchConfig, facts: FileFacts, name: str) -> str:
        when = choose_date(facts, folder.date_source, self.limits.timezone)
        prefix = folder.prefix if self.replica.prefix is None else self.replica.prefix
        try:
            return key_for(facts, prefix=prefix, name=name, relpath=folder.relpath(copy.path),
                           when=when, folder=folder.label, host=self.limits.host)
        except ValueError as exc:
            raise NoValidKey(f"cannot make an object key: {exc}") from None

    def _reproducible(self, folder: WatchConfig, name: str) -> bool:
        prefix = folder.prefix if self.replica.prefix is None else self.replica.prefix
        return folder.date_source != "upload" or "{date" not in prefix + name

    def _options(self, copy: CopyRow, folder: WatchConfig, facts: FileFacts) -> ObjectOptions:
        place = Place(folder.relpath(copy.path), copy.path, folder.label,
                      self.limits.host or default_host(),
                      choose_date(facts, folder.date_source, self.limits.timezone))
        return options_for(self.replica.objects, facts, copy.facts, place,
                           limit=self.replica.meta_limit, tz=self.limits.timezone)

    def _tag(self, copy: CopyRow, key: str, options: ObjectOptions) -> None:
        """Tags the upload could not carry: owed in the copy's row first, then set."""
        tags = options.tags
        if copy.tagging_owed and copy.pending_key == key:
            tags = tuple(parse_tagging_query(copy.tagging_owed).items())
        self.queue.intend_copy(copy, key=key, tagging=tagging_query(tags))
        self.target.tag(key, tags)

    def _after(self, copy: CopyRow, folder: WatchConfig, pinned: PinnedFile) -> None:
        after_upload(folder, copy.path, pinned, size=copy.size, mtime_ns=copy.mtime_ns,
                     sha256=copy.sha256, file_id=copy.file_id, fanout=self.queue)

    # --- failures ------------------------------------------------------------

    def _settle(self, copy: CopyRow, outcome: CopyOutcome) -> None:
        self.queue.settle_copy(copy, outcome)

    def _store_failed(self, copy: CopyRow, err: StoreError) -> None:
        if not err.retryable:
            self._fail(copy, str(err))
            return
        delay = self.limits.retry.delay(copy.attempts + 1)
        log.warning("copy of %s to %s failed, retrying in %.0fs: %s", copy.path,
                    self.replica.name, delay, err)
        self._settle(copy, Deferred(delay, error=str(err), count_attempt=True, code=err.code,
                                    by_store=True))

    def _os_failed(self, copy: CopyRow, exc: OSError) -> None:
        if exc.errno == errno.ENOENT:
            self._settle(copy, Settled("skipped", "the local file is gone"))
        elif exc.errno in (errno.EACCES, errno.EPERM):
            self._fail(copy, f"cannot read: {exc.strerror}; give the ossync user read access")
        else:
            delay = self.limits.retry.delay(copy.attempts + 1)
            self._settle(copy, Deferred(delay, error=f"cannot read: {exc.strerror or exc}",
                                        count_attempt=True))

    def _fail(self, copy: CopyRow, reason: str) -> None:
        log.error("copy of %s to %s failed: %s", copy.path, self.replica.name, reason)
        self._settle(copy, Settled("failed", reason, attempts=1))


def _facts(copy: CopyRow, pinned: PinnedFile) -> FileFacts:
    """What keys and options need of the file, from the copy's row (hashed once, by the
    primary's worker) and its first bytes (its real type's extension)."""
    name = os.path.basename(copy.path)
    with open(pinned.read_path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    media = sniff_with_name(head, name) or MediaType(copy.content_type,
                                                     os.path.splitext(name)[1].lower())
    return FileFacts(pinned.read_path, copy.size, copy.mtime_ns, copy.sha256,
                     int(copy.crc64 or 0), media, b"", name)
