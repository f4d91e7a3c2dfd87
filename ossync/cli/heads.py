"""Many HEADs at once, for `ossync ledger rebuild` and `ossync verify`: `concurrency` in
flight, at most `rate` started per second, each retried on a retryable error as one
policy says (`HEADS`), answers handed back in the order asked.

A HEAD is a billed request on most stores and one request per object on all of them:
the rate bound keeps a rebuild of millions of objects from tripping a bucket's request
limit (OSS answers 503 SlowDown beyond it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from ossync.core.errors import StoreError
from ossync.core.objects import ObjectInfo
from ossync.core.retry import RetryPolicy
from ossync.targets import BucketReader

HEADS = RetryPolicy(initial=0.5, longest=8.0, attempts=6)


class Pace:
    """At most `rate` starts a second, however many threads ask (None: no bound)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(self._next, now)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


@dataclass(frozen=True)
class Answer:
    key: str
    info: ObjectInfo | None = None  # None: no such object (or `error`)
    error: StoreError | None = None


class Heads:
    """A pool that HEADs keys for as long as it is open."""

    def __init__(self, reader: BucketReader, concurrency: int, rate: float | None) -> None:
        self.reader = reader
        self.pace = Pace(rate)
        self.concurrency = max(1, concurrency)
        self.pool = ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="ossync-head")

    def __enter__(self) -> Heads:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def of(self, keys: Sequence[str]) -> Iterator[Answer]:
        """The answers for `keys`, in their order (all in flight at once, paced)."""
        for batch in self.ask(keys):
            yield from batch.result()

    def ask(self, keys: Sequence[str]) -> list[Future[list[Answer]]]:
        """HEADs of `keys` on their way, in a few runs per thread (a Future per key costs
        more than its HEAD's signing); a caller may ask for the next keys while it reads
        these answers."""
        size = max(1, len(keys) // (self.concurrency * 4))
        return [self.pool.submit(self._run, keys[i:i + size]) for i in range(0, len(keys), size)]

    def _run(self, keys: Sequence[str]) -> list[Answer]:
        return [self._one(key) for key in keys]

    def _one(self, key: str) -> Answer:
        failures = 0
        while True:
            self.pace.wait()
            try:
                return Answer(key, self.reader.head(key))
            except StoreError as err:
                failures += 1
                if not (err.retryable and HEADS.again(failures)):
                    return Answer(key, error=err)
            HEADS.wait(failures, None)
