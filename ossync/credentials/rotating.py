"""Keys that rotate: fetched again before they expire, in a background thread, never
on a worker's hot path.

When: 5 minutes before the expiry, or at 80 % of the lifetime for keys that live less
than 25 minutes (a 20 s token is refreshed after 16 s), and always before the keys stop
being handed out (10 s before their expiry, 2 s for very short-lived ones); a file
source also whenever the file changes (a stat every second). Keys without an expiry
are fetched again only when a store refuses them.

Swapping: the current keys are one immutable `_Issued` value behind one reference;
the refresher replaces the reference, so `current()` (a plain read) always returns a
complete (id, secret, token) triple, never an old id with a new token.

Failing: a failed refresh keeps the current keys while they are valid and tries
again with back-off (1 s doubling to 60 s). Once they are no longer valid (their
expiry minus a safety margin), uploads are held: `ready` is cleared, `current()`
raises CredentialsUnavailable, one error line is logged, and `hold_reason()` says why
(for systemd's STATUS=). The first refresh that works ends the hold by itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from ossync.core import failpoints
from ossync.core.clock import rfc3339, utc_now
from ossync.core.credentials import Credentials, CredentialsUnavailable
from ossync.core.retry import RetryPolicy
from ossync.credentials.documents import CredentialError, masked_key_id

log = logging.getLogger("ossync.credentials")
EARLY = timedelta(minutes=5)  # refresh this long before the expiry ...
EARLY_SHARE = 0.2  # ... or at 80 % of the lifetime, for short-lived keys
SAFETY = timedelta(seconds=10)  # keys stop being handed out this long before expiry ...
SAFETY_SHARE = 0.1  # ... or 10 % of their lifetime, whichever is less ...
MIN_SAFETY = timedelta(seconds=2)  # ... but never closer to it than this
RETRY_FIRST = 1.0  # seconds before the first retry of a failed refresh
RETRY_MAX = 60.0  # the longest back-off between retries
POLL = 1.0  # seconds between looks at the source's fingerprint and at the expiry
UNCHANGED_POLL = 30.0  # the most to wait before asking again a source not yet rotated
RENEW_WAIT = 20.0  # seconds a worker whose keys were refused waits for fresh ones
RENEW_MIN_INTERVAL = 5.0  # refused keys cause at most one fetch this often
FIRST_WAIT = 15.0  # seconds start() waits for the first fetch


class Source(Protocol):
    """What the refresher asks of a source (`ossync.credentials.sources.Source`)."""

    def fetch(self) -> Credentials: ...
    def describe(self) -> str: ...
    def fingerprint(self) -> object | None: ...


@dataclass(frozen=True)
class _Issued:
    credentials: Credentials
    usable_until: datetime | None  # None: no expiry
    refresh_at: datetime | None


def plan(creds: Credentials, fetched_at: datetime) -> _Issued:
    """When keys fetched at `fetched_at` are refreshed, and until when they are used."""
    if creds.expires_at is None:
        return _Issued(creds, None, None)
    life = max(creds.expires_at - fetched_at, timedelta(0))
    early = min(EARLY, life * EARLY_SHARE)
    usable_until = creds.expires_at - max(min(SAFETY, life * SAFETY_SHARE), MIN_SAFETY)
    return _Issued(creds, usable_until, min(creds.expires_at - early, usable_until - early / 2))


def _usable(issued: _Issued | None, now: datetime) -> bool:
    return issued is not None and (issued.usable_until is None or now < issued.usable_until)


class RotatingCredentials:
    """A `CredentialSupply` over a rotating source. `start()` refreshes in a thread
    (the daemon); unstarted, `current()` fetches when it has nothing valid (one-shot
    commands such as `ossync put`)."""

    rotates = True

    def __init__(self, source: Source, *,
                 on_rotate: Callable[[Credentials], None] | None = None,
                 clock: Callable[[], datetime] = utc_now,
                 retry_first: float = RETRY_FIRST, retry_max: float = RETRY_MAX) -> None:
        self.source = source
        self.ready = threading.Event()  # set while valid keys are at hand
        self._on_rotate = on_rotate
        self._clock = clock
        self._retry = RetryPolicy(initial=retry_first, longest=retry_max, jitter=0.2)
        self._issued: _Issued | None = None  # the one reference workers read
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._attempts = 0
        self._failures = 0
        self._problem: str | None = None
        self._held = False
        self._renew_wanted = False
        self._fetching = False
        self._next_try: datetime | None = None
        self._last_fetch = -RENEW_MIN_INTERVAL
        self._seen: object | None = None

    # --- what targets call ----------------------------------------------------

    def current(self) -> Credentials:
        issued = self._issued
        if _usable(issued, self._clock()):
            assert issued is not None
            return issued.credentials
        if self._thread is None:
            with self._cond:
                if not _usable(self._issued, self._clock()) and self._may_fetch():
                    self._refresh()
            issued = self._issued
            if _usable(issued, self._clock()):
                assert issued is not None
                return issued.credentials
        raise CredentialsUnavailable(self.hold_reason() or "no valid credentials")

    def renew(self, refused: Credentials) -> bool:
        with self._cond:
            if self._issued is not None and self._issued.credentials != refused:
                return True  # another request already brought fresh keys
            seen = self._attempts
            if self._thread is not None and (self._fetching or self._renew_wanted):
                pass  # a fetch is on its way: wait for it with the others
            elif not self._may_fetch():
                return False
            else:
                log.warning("the store refused the credentials of %s from %s: fetching "
                            "fresh ones now", masked_key_id(refused.access_key_id),
                            self.source.describe())
                if self._thread is None:
                    self._refresh()
                else:
                    self._renew_wanted = True
                    self._wake.set()
            if self._thread is not None:
                self._cond.wait_for(lambda: self._attempts != seen or self._stop.is_set(),
                                    RENEW_WAIT)
            issued = self._issued
            return (issued is not None and issued.credentials != refused
                    and _usable(issued, self._clock()))

    def hold_reason(self) -> str | None:
        """Why uploads are held, or None while valid keys are at hand."""
        if _usable(self._issued, self._clock()):
            return None
        if self._problem:
            return f"no valid credentials: {self._problem}"
        why = "the last ones expired" if self._issued else "none fetched yet"
        return f"no valid credentials from {self.source.describe()}: {why}"

    # --- the refresher thread -------------------------------------------------

    def start(self, wait: float = FIRST_WAIT) -> None:
        """Refresh in the background; waits (at most `wait` s) for the first fetch."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="ossync-credentials",
                                        daemon=True)
        self._thread.start()
        with self._cond:
            self._cond.wait_for(lambda: self._attempts > 0, wait)

    def alive(self) -> bool:
        """False once the refresher thread has died (the daemon's health turns red)."""
        return self._thread is None or self._thread.is_alive() or self._stop.is_set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            failpoints.hit("credentials.loop", self._stop)
            if self._due():
                self._refresh()
            self._update_hold()
            wait = POLL
            if self._next_try is not None:
                wait = min(wait, (self._next_try - self._clock()).total_seconds())
            self._wake.wait(max(wait, 0.05))
            self._wake.clear()

    def _due(self) -> bool:
        if self._renew_wanted or self._attempts == 0:
            return True
        if self._next_try is not None and self._clock() >= self._next_try:
            return True
        fingerprint = self.source.fingerprint()
        return fingerprint is not None and fingerprint != self._seen

    def _may_fetch(self) -> bool:
        return time.monotonic() - self._last_fetch >= RENEW_MIN_INTERVAL or (
            self._issued is None and self._attempts == 0)

    def _refresh(self) -> None:
        with self._cond:
            self._renew_wanted = False
            self._fetching = True
        fingerprint = self.source.fingerprint()
        started = self._clock()
        creds: Credentials | None = None
        problem = ""
        try:
            creds = self.source.fetch()
        except (CredentialError, OSError, ValueError) as exc:
            problem = str(exc)
        except Exception:  # a bug must cost one refresh, never the refresher thread
            log.exception("unexpected error asking %s for credentials", self.source.describe())
            problem = f"{self.source.describe()}: internal error (see the log)"
        with self._cond:
            self._seen = fingerprint
            self._last_fetch = time.monotonic()
            if creds is not None:
                self._accept(creds, started)
            else:
                self._reject(problem)
            self._attempts += 1
            self._fetching = False
            if self._thread is not None:
                self._update_hold()
            self._cond.notify_all()

    def _accept(self, creds: Credentials, fetched_at: datetime) -> None:
        now = self._clock()
        issued = plan(creds, fetched_at)
        old = self._issued
        if not _usable(issued, now):
            assert creds.expires_at is not None
            self._reject(f"{self.source.describe()} handed out keys that expire at "
                         f"{rfc3339(creds.expires_at)}, too soon to use")
            return
        self._failures = 0
        self._problem = None
        if old is not None and old.credentials == creds:  # the source has not rotated yet
            self._next_try = self._poll_unchanged(old, now)
            return
        if self._on_rotate is not None:
            self._on_rotate(creds)  # e.g. register the new secrets for log redaction
        self._issued = issued  # the swap: workers see the whole new triple from here on
        self._next_try = issued.refresh_at
        until = f"valid until {rfc3339(creds.expires_at)}" if creds.expires_at else (
            "no expiry given")
        log.info("credentials from %s: key %s, %s%s", self.source.describe(),
                 masked_key_id(creds.access_key_id), until,
                 "" if old is None else " (rotated)")

    def _poll_unchanged(self, old: _Issued, now: datetime) -> datetime | None:
        if old.refresh_at is None:
            return None
        if now < old.refresh_at:
            return old.refresh_at
        assert old.usable_until is not None
        self._problem = (f"{self.source.describe()} still hands out the keys that expire "
                         f"at {rfc3339(old.credentials.expires_at or now)}")
        left = (old.usable_until - now).total_seconds()
        return now + timedelta(seconds=min(UNCHANGED_POLL, max(0.2, left / 4)))

    def _reject(self, problem: str) -> None:
        self._failures += 1
        self._problem = problem
        delay = self._retry.delay(self._failures)
        now = self._clock()
        self._next_try = now + timedelta(seconds=delay)
        issued = self._issued
        if _usable(issued, now):
            assert issued is not None
            until = issued.credentials.expires_at
            log.warning("refreshing credentials failed: %s; still using the current ones"
                        "%s; next try in %.0fs", problem,
                        f" (valid until {rfc3339(until)})" if until else "", delay)
        elif self._held:
            log.debug("credentials still unavailable: %s; next try in %.0fs", problem, delay)

    def _update_hold(self) -> None:
        if _usable(self._issued, self._clock()):
            if self._held:
                self._held = False
                log.warning("credentials from %s are valid again: uploads resume",
                            self.source.describe())
            self.ready.set()
            return
        self.ready.clear()
        if not self._held and self._attempts > 0:
            self._held = True
            log.error("uploads held: %s; files stay queued, and uploads resume by "
                      "themselves once a refresh works (retrying every %.0fs at most)",
                      self.hold_reason(), self._retry.longest)
