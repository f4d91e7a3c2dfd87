"""Named fault seams, in the manner of etcd's gofail and TiKV's fail-rs: for tests and
fault drills; never set the variable in production.

A failpoint is one call, `failpoints.hit(NAME, stop)`, at one named place in the code.
Unless the variable `OSSYNC_FAILPOINTS` arms it, it costs one check of an empty dict
and does nothing. The variable is read once, when this module is first imported:

    OSSYNC_FAILPOINTS="worker.process=hang;intake.event=raise"

Entries are separated by `;`, each `NAME=TERMS`. TERMS is one term or several joined by
`->`, each `[COUNT*]ACTION[(ARG)]`: a term with a COUNT acts on that many hits, then the
next term takes over (`1*off->hang`: the first hit passes, every later one hangs); a
term without COUNT acts on every hit; once all terms are used up the point is off.

Points (`POINTS`):
    worker.process  an upload worker has claimed a row and is about to process it; a
                    hang holds the row claimed (busy, no progress) until shutdown
    intake.event    the file-system observer thread got an event from watchdog; a raise
                    there ends the observer thread (watchdog catches nothing)
    worker.loop     each turn of an upload worker's loop, outside any one file: a raise
                    crashes the worker stage (its supervisor restarts it)
    intake.loop     each batch of the intake stage (events → ledger)
    scanner.loop    each scan request of the scanner stage
    sweeper.loop    each sweep of unfinished multipart uploads
    credentials.loop  each turn of the rotating-credentials refresher (not restarted:
                    its death turns health red)
    queue.decided   a worker found no due row and is about to sleep: a sleep here
                    widens the gap in which a wake-up could be lost
    worker.pinned   a worker has opened its file beneath the watch folder, before hashing
    worker.hashed   ... hashed it, before sending
    worker.posted   ... sent it in a request that could not carry its tags (OSS
                    PostObject), wrote the tags owed, before PutObjectTagging
    worker.sent     ... sent and recorded it, before `after_upload` deletes or moves it
    outbox.loop     each turn of a delivery endpoint's sender (a webhook, on_upload)
    heartbeat.loop  each turn of the heartbeat stage
    events.watch    each turn of the stage that hears other hosts' events (PostgreSQL),
                    or of `ossync events --follow`'s watch of another process's

Actions (`ACTIONS`):
    off         do nothing
    hang        block until the caller's stop event is set (forever without one), then
                tell the caller to abandon the step: `hit()` returns True
    raise       raise `FailpointError` (a RuntimeError) naming the point
    sleep(S)    wait S seconds (cut short by the stop event: then abandon, as for hang)

A variable with an unknown point name, an unknown action or a malformed term is
rejected whole (nothing is armed) and the reason is logged as an error; when points
are armed a warning names them. Both are logged once: by `announce()` (`ossync run` calls
it when it is up) or at the first hit, whichever comes first. Nothing is logged at
import, before logging is set up.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

log = logging.getLogger("ossync.core.failpoints")
ENV = "OSSYNC_FAILPOINTS"
POINTS = ("worker.process", "intake.event", "worker.loop", "intake.loop", "scanner.loop",
          "sweeper.loop", "credentials.loop", "queue.decided", "worker.pinned",
          "worker.hashed", "worker.posted", "worker.sent", "outbox.loop", "heartbeat.loop",
          "events.watch")
ACTIONS = ("off", "hang", "raise", "sleep")
_TERM = re.compile(r"(?:(?P<count>\d+)\*)?(?P<action>[a-z]+)(?:\((?P<arg>[^()]*)\))?")


class FailpointError(RuntimeError):
    """What the `raise` action raises."""


@dataclass(frozen=True)
class Term:
    action: str
    count: int | None = None  # hits this term acts on; None: every hit
    seconds: float = 0.0  # sleep's argument


class Point:
    """One armed point: its terms, used up in order (thread-safe)."""

    def __init__(self, name: str, terms: tuple[Term, ...], text: str) -> None:
        self.name = name
        self.terms = terms
        self.text = text
        self._lock = threading.Lock()
        self._index = 0
        self._used = 0

    def next_term(self) -> Term | None:
        """The term that acts on this hit; None once every term is used up."""
        with self._lock:
            while self._index < len(self.terms):
                term = self.terms[self._index]
                if term.count is None:
                    return term
                if self._used < term.count:
                    self._used += 1
                    return term
                self._index += 1
                self._used = 0
            return None


def _term(text: str) -> Term:
    match = _TERM.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"cannot read the term {text.strip()!r}: expected "
                         "[COUNT*]ACTION[(ARG)], e.g. hang, raise, 1*off, sleep(2.5)")
    action, arg = match["action"], match["arg"]
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
    count = int(match["count"]) if match["count"] is not None else None
    if count == 0:
        raise ValueError(f"the term {text.strip()!r} acts on no hit (COUNT must be 1 or more)")
    if action != "sleep":
        if arg is not None:
            raise ValueError(f"{action} takes no argument (got {arg!r})")
        return Term(action, count)
    try:
        seconds = float(arg or "")
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < 86400:
        raise ValueError(f"sleep needs seconds from 0 to 86400, e.g. sleep(2.5) (got {arg!r})")
    return Term(action, count, seconds)


def parse(spec: str) -> dict[str, Point]:
    """The points a variable's value arms; ValueError naming the first problem."""
    points: dict[str, Point] = {}
    for entry in spec.split(";"):
        if not entry.strip():
            continue
        name, sep, terms = (part.strip() for part in entry.partition("="))
        if not sep or not terms:
            raise ValueError(f"{ENV}: {entry.strip()!r} is not NAME=ACTION")
        if name not in POINTS:
            raise ValueError(f"{ENV}: unknown failpoint {name!r} (known: {', '.join(POINTS)})")
        if name in points:
            raise ValueError(f"{ENV}: failpoint {name!r} is set twice")
        try:
            parsed = tuple(_term(t) for t in terms.split("->"))
        except ValueError as exc:
            raise ValueError(f"{ENV}: {name}: {exc}") from None
        points[name] = Point(name, parsed, terms)
    return points


_points: dict[str, Point] = {}  # the armed points; empty unless the variable arms some
_problem: str | None = None  # why the variable was rejected
_announced = False
_announce_lock = threading.Lock()


def configure(spec: str | None) -> None:
    """Arm the points `spec` names (in `OSSYNC_FAILPOINTS` syntax) in place of the
    current ones; None or "" disarms all. ValueError on a bad spec (nothing changes)."""
    global _points, _problem, _announced
    points = parse(spec or "")
    with _announce_lock:
        _points, _problem, _announced = points, None, False


def load_env(environ: Mapping[str, str] = os.environ) -> None:
    """(Re)read `OSSYNC_FAILPOINTS`; done once at import. A bad value arms nothing and
    its reason is logged by `announce()`."""
    global _points, _problem, _announced
    try:
        points, problem = parse(environ.get(ENV, "")), None
    except ValueError as exc:
        points, problem = {}, str(exc)
    with _announce_lock:
        _points, _problem, _announced = points, problem, False


def active() -> dict[str, str]:
    """The armed points and their terms, e.g. {"worker.process": "hang"}."""
    return {name: point.text for name, point in _points.items()}


def announce() -> None:
    """Log, once, which points are armed (a warning) or why the variable was rejected."""
    global _announced
    with _announce_lock:
        if _announced:
            return
        _announced = True
        if _problem is not None:
            log.error("%s rejected, no failpoint is armed: %s", ENV, _problem)
        elif _points:
            log.warning("failpoints armed (%s=%s): faults are injected on purpose; "
                        "never set it in production", ENV,
                        ";".join(f"{n}={p.text}" for n, p in _points.items()))


def hit(name: str, stop: threading.Event | None = None) -> bool:
    """Pass the failpoint `name`. True: abandon the step (it hung or slept until `stop`
    was set); raises FailpointError for `raise`. A no-op unless the point is armed."""
    if not _points:
        return False
    return _fire(name, stop)


def _fire(name: str, stop: threading.Event | None) -> bool:
    announce()
    point = _points.get(name)
    term = point.next_term() if point is not None else None
    if term is None or term.action == "off":
        return False
    if term.action == "raise":
        raise FailpointError(f"failpoint {name}: raise")
    if term.action == "hang":
        log.warning("failpoint %s: hang until shutdown", name)
        if stop is None:
            stop = threading.Event()  # never set: hang for good
        stop.wait()
        return True
    log.warning("failpoint %s: sleep %gs", name, term.seconds)
    if stop is None:
        time.sleep(term.seconds)
        return False
    return stop.wait(term.seconds)


load_env()
