"""/readyz: is this daemon doing its job? Ready means: not stopping; the ledger takes
writes (the last queue write went through, and a write transaction opens now); the
target answered within `http.ready_within` (a verified upload, or else a HEAD probe);
and uploads are not held for want of credentials.

Probes are cheap and rare: at most one ledger probe and one target probe every
`PROBE_EVERY` seconds, whatever the request rate, and a request waits at most
`PROBE_WAIT` seconds for a target probe (which runs in a thread of its own, bounded by
the target's own timeouts), so a hanging store never ties up the listener.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from ossync.core.credentials import CredentialsUnavailable
from ossync.core.errors import StoreError
from ossync.http.meter import Meter
from ossync.http.view import DaemonView
from ossync.ledger import LedgerError

log = logging.getLogger("ossync.http")
PROBE_KEY = ".ossync-readiness-probe"  # HEAD of a key that need not exist: 404 is an answer
PROBE_EVERY = 10.0
PROBE_WAIT = 5.0
NOT_PROBED = "not probed yet"


@dataclass(frozen=True)
class Verdict:
    ready: bool
    problems: tuple[str, ...]


class Readiness:
    def __init__(self, daemon: DaemonView, meter: Meter, within: float) -> None:
        self.daemon = daemon
        self.meter = meter
        self.within = within
        self._lock = threading.Lock()
        self._ledger_at = -PROBE_EVERY * 2
        self._ledger_problem: str | None = None
        self._target_at = -PROBE_EVERY * 2
        self._target_problem: str | None = NOT_PROBED
        self._prober: threading.Thread | None = None

    def check(self) -> Verdict:
        problems = list(self.daemon.health_problems())  # not alive: not ready either
        if self.daemon.stop_event.is_set():
            problems.append("the daemon is stopping")
        ledger = self._ledger()
        if ledger:
            problems.append(f"the ledger cannot be written: {ledger}")
        target = self._target()
        if target:
            problems.append(f"the target has not answered: {target}")
        held = self.daemon.credentials_problem()
        if held:
            problems.append(f"uploads are held: {held}")
        return Verdict(not problems, tuple(problems))

    def _ledger(self) -> str | None:
        if self.meter.ledger_problem:
            return self.meter.ledger_problem
        now = time.monotonic()
        if now - self._ledger_at >= PROBE_EVERY and self._lock.acquire(blocking=False):
            try:
                self._ledger_at = now
                self.daemon.ledger.renew_leases()  # a write transaction, harmless
                self._ledger_problem = None
            except LedgerError as exc:
                self._ledger_problem = str(exc)
            finally:
                self._lock.release()
        return self._ledger_problem

    def _fresh(self) -> bool:
        answered, failed = self.meter.target_answered, self.meter.target_failed
        return (answered is not None and time.monotonic() - answered <= self.within
                and (failed is None or failed <= answered))

    def _target(self) -> str | None:
        if self._fresh():
            return None
        with self._lock:
            due = time.monotonic() - self._target_at >= PROBE_EVERY
            if due and self._prober is None:
                self._target_at = time.monotonic()
                self._prober = threading.Thread(target=self._probe, name="ossync-http-probe",
                                                daemon=True)
                self._prober.start()
            prober = self._prober
        if prober is not None:
            prober.join(PROBE_WAIT)
            if prober.is_alive():
                return f"a probe has had no answer for {PROBE_WAIT:.0f}s"
        return None if self._fresh() else self._target_problem

    def _probe(self) -> None:
        """One HEAD; its failure is logged when it starts, and the recovery too."""
        was = self._target_problem
        try:
            self.daemon.target.head(PROBE_KEY)
            self.meter.target_answered = time.monotonic()
            self._target_problem = None
            if was is not None and was != NOT_PROBED:
                log.info("readiness: the target answers again")
        except (StoreError, CredentialsUnavailable, OSError) as exc:
            self._target_problem = str(exc)
            if was is None or was == NOT_PROBED:
                log.warning("readiness: the target does not answer a probe: %s", exc)
        finally:
            with self._lock:
                self._prober = None

    def stop(self) -> None:
        """Wait for a probe still running (bounded by the target's timeouts)."""
        with self._lock:
            prober = self._prober
        if prober is not None:
            prober.join()
