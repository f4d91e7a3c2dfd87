"""`ossync put` writes its ledger records a few files at a time, from one thread.

One transaction per file cost ~160 µs of CPU a file on its own (a commit writes every
index page it touches, 16 for one file), and the four workers queued on the ledger's
one lock, handing the GIL back and forth at every statement. Here the workers hand each
record over and go on; the `ossync-put-ledger` thread commits what has come within
`DELAY` (or `MOST` records) in one transaction. So a kill loses at most the records of
the files uploaded in its last `DELAY`, as it loses those of the files in flight:
`put` again meets their objects (already there: same size and CRC-64) and records them.

A batch that fails is written again file by file, so one bad record costs only its own
file; `close()` commits everything handed in before it returns.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field

from ossync.ledger import DirectRecord, LedgerError, Recorder, Upload

DELAY = 0.025  # seconds a record waits for others to share its commit
MOST = 64  # records in one commit


@dataclass
class _Pending:
    record: DirectRecord
    done: Future[Upload] = field(default_factory=Future)
    since: float = field(default_factory=time.monotonic)


class BatchRecorder:
    """`record()` returns at once with a future of the file's upload row."""

    def __init__(self, ledger: Recorder, *, delay: float = DELAY, most: int = MOST) -> None:
        self.ledger = ledger
        self._delay, self._most = delay, most
        self._pending: list[_Pending] = []
        self._bytes: Counter[tuple[str, str]] = Counter()  # (bucket, sha256) not committed
        self._cond = threading.Condition()
        self._now = False  # commit without waiting for companions
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="ossync-put-ledger",
                                        daemon=True)
        self._thread.start()

    def record(self, record: DirectRecord) -> Future[Upload]:
        pending = _Pending(record)
        with self._cond:
            if self._closing:
                raise RuntimeError("the recorder is closed")
            self._pending.append(pending)
            self._bytes[record.bucket, record.sha256] += 1
            if len(self._pending) in (1, self._most):  # else the writer's wait is timed
                self._cond.notify_all()
        return pending.done

    def stored(self, bucket: str, sha256: str) -> Upload | None:
        """`Recorder.stored`, after committing a record of the same bytes still in hand:
        a second file with them, in the same run, is recognised as before."""
        with self._cond:
            if self._bytes[bucket, sha256]:
                self._now = True
                self._cond.notify_all()
                self._cond.wait_for(lambda: not self._bytes[bucket, sha256])
        return self.ledger.stored(bucket, sha256)

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            self._commit(batch)
            with self._cond:
                for pending in batch:
                    held = (pending.record.bucket, pending.record.sha256)
                    self._bytes[held] -= 1
                    if not self._bytes[held]:
                        del self._bytes[held]  # a run of a million files keeps no million keys
                self._cond.notify_all()

    def _next_batch(self) -> list[_Pending] | None:
        """The next records to commit, once the oldest has waited `delay` (or enough have
        come, or someone needs them now); None when closed and all are committed."""
        with self._cond:
            self._cond.wait_for(lambda: self._pending or self._closing)
            if not self._pending:
                return None
            due = self._pending[0].since + self._delay
            while not (self._closing or self._now or len(self._pending) >= self._most):
                left = due - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch, self._pending = self._pending[: self._most], self._pending[self._most:]
            self._now = self._now and bool(self._pending)
            return batch

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            uploads = self.ledger.record_direct_many([p.record for p in batch])
        except LedgerError as exc:
            if len(batch) == 1:
                batch[0].done.set_exception(exc)
            else:
                for pending in batch:
                    self._commit([pending])
            return
        except BaseException as exc:  # a bug: the caller raises it, as it did inline
            for pending in batch:
                pending.done.set_exception(exc)
            return
        for pending, upload in zip(batch, uploads, strict=True):
            pending.done.set_result(upload)
