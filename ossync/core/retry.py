"""The one retry policy: whether another try follows a failure, how long to wait before
it, and a wait that a stop cuts short.

An operation says whether an error is worth another try (`StoreError.retryable`, a
refusal of keys that fresh ones may cure, a clock-skew answer); a `RetryPolicy` says
whether there is another try and how long to wait first. Every wait takes the daemon's
stop event, so a SIGTERM is never held up by a retry. The retries, each through one:

- a whole file (`ossync.upload.worker`): `retry_initial_delay` doubling to
  `retry_max_delay` with jitter, never giving up; its wait is the row's deferral in
  the ledger, not a sleep;
- one part of a multipart upload (`ossync.targets.multipart.engine`): `PARTS`, three
  tries 1 s and 2 s apart, then the whole file's policy takes over;
- a request whose keys the store refused (`ossync.targets.http`): `FRESH_KEYS`, once
  more with fresh keys;
- a request refused for clock skew (`ossync.targets.oss`, `ossync.targets.s3`):
  `RESIGN`, once more, signed with the server's clock;
- opening a shared ledger that is away (`ossync.service.daemon`): `LEDGER_OPEN`, and
  refreshing rotating keys (`ossync.credentials.rotating`), each with its own numbers.

`FRESH_KEYS` and `RESIGN` send again at once: their callers hold no stop event, so a
wait there could hold up a stop (the tests keep their delays at 0).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential back-off: `initial` seconds after the first failure, doubling,
    never more than `longest`; `jitter` draws each wait from the top share of its step
    (0.5: half to all of it), so many clients never retry in step. `attempts` bounds
    the tries in all (None: the caller never gives up)."""

    initial: float = 2.0
    longest: float = 600.0
    jitter: float = 0.5
    attempts: int | None = None

    def again(self, failures: int) -> bool:
        """Whether another try follows `failures` failed ones."""
        return self.attempts is None or failures < self.attempts

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failure in a row (1 for the first)."""
        step = min(self.longest, self.initial * 2 ** min(max(failures - 1, 0), 30))
        return random.uniform(step * (1 - self.jitter), step) if self.jitter else step

    def wait(self, failures: int, stop: threading.Event | None) -> bool:
        """Wait `delay(failures)`; False (at once) when `stop` is set, before or during
        the wait: then there is no other try."""
        if stop is None:
            stop = threading.Event()  # nobody can stop it: the wait runs its course
        return not stop.wait(self.delay(failures))


PARTS = RetryPolicy(initial=1.0, longest=2.0, jitter=0.0, attempts=3)
FRESH_KEYS = RetryPolicy(initial=0.0, longest=0.0, jitter=0.0, attempts=2)
RESIGN = RetryPolicy(initial=0.0, longest=0.0, jitter=0.0, attempts=2)
LEDGER_OPEN = RetryPolicy(initial=1.0, longest=30.0, jitter=0.0)
