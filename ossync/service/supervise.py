"""Every long-running stage of the daemon runs under a supervisor: a stage that dies of an
unexpected exception is logged with its cause and started again after a back-off, and
health is red from the crash until the stage has run again for a while. A stage that
keeps dying is given up: health stays red (systemd's watchdog, or the daemon itself
when there is none, restarts the process). A dead stage is a dead daemon, never a
silent one (watchdog issues #663, #829; mc #2971).

A stage's body is its loop: it returns only when the daemon stops. Restarting one is
safe because every stage keeps its state in the ledger or in queues that outlive it;
`on_restart` lets a stage ask for what a crash may have cost (a rescan, say).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ossync.core.textforms import printable

log = logging.getLogger("ossync.service.supervise")
BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0)  # seconds before each restart of a stage that keeps dying
STABLE = 10.0  # seconds a restarted stage must run before its crashes are forgiven
GIVE_UP = len(BACKOFF)  # crashes in a row (each within STABLE of its restart) before giving up


@dataclass
class Stage:
    """One supervised thread's record (changed by its own thread, read by health)."""

    name: str
    crashes: int = 0  # in a row: reset once the stage has run STABLE seconds
    last_error: str | None = None
    crashed_at: float | None = None  # monotonic
    started_at: float = field(default_factory=time.monotonic)
    restarting: bool = False
    dead: bool = False

    def problem(self, now: float) -> str | None:
        """Why this stage makes the daemon unhealthy now, or None."""
        if self.dead:
            return (f"stage {self.name} has died ({self.last_error}); gave up after "
                    f"{self.crashes} crashes in a row")
        if self.restarting:
            return f"stage {self.name} crashed ({self.last_error}); restarting it"
        if self.crashed_at is not None and now - self.started_at < STABLE:
            return (f"stage {self.name} crashed {now - self.crashed_at:.0f}s ago "
                    f"({self.last_error}); restarted, not yet stable")
        return None


class Supervisor:
    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.stages: dict[str, Stage] = {}
        self.threads: list[threading.Thread] = []

    def spawn(self, name: str, body: Callable[[], None],
              on_restart: Callable[[], None] | None = None) -> threading.Thread:
        stage = Stage(name)
        self.stages[name] = stage
        thread = threading.Thread(target=self._run, args=(stage, body, on_restart),
                                  name=name, daemon=True)
        thread.start()
        self.threads.append(thread)
        return thread

    def _run(self, stage: Stage, body: Callable[[], None],
             on_restart: Callable[[], None] | None) -> None:
        while not self.stop.is_set():
            stage.started_at = time.monotonic()
            stage.restarting = False
            try:
                body()
                return  # a stage returns only when the daemon stops
            except Exception as exc:  # the supervisor's job: no exception ends a stage silently
                self._crashed(stage, exc)
            if stage.dead or self.stop.wait(BACKOFF[min(stage.crashes, GIVE_UP) - 1]):
                return
            log.warning("restarting stage %s (crash %d in a row)", stage.name, stage.crashes)
            if on_restart is not None:
                try:
                    on_restart()
                except Exception:
                    log.exception("stage %s: could not prepare its restart", stage.name)

    def _crashed(self, stage: Stage, exc: Exception) -> None:
        now = time.monotonic()
        stable = now - stage.started_at >= STABLE
        stage.crashes = 1 if stable else stage.crashes + 1
        stage.crashed_at = now
        stage.last_error = printable(f"{type(exc).__name__}: {exc}")
        if stage.crashes >= GIVE_UP:
            stage.dead = True
            log.critical("stage %s died again (%s), %d crashes in a row: giving up on it; "
                         "the daemon is unhealthy and must be restarted", stage.name,
                         stage.last_error, stage.crashes, exc_info=exc)
            return
        stage.restarting = True
        log.critical("stage %s crashed: %s; restarting it in %.1fs", stage.name,
                     stage.last_error, BACKOFF[stage.crashes - 1], exc_info=exc)

    def problems(self) -> list[str]:
        now = time.monotonic()
        found = [p for p in (s.problem(now) for s in self.stages.values()) if p]
        found += [f"thread {t.name} has died" for t in self.threads
                  if not t.is_alive() and not self.stop.is_set()]
        return found

    def given_up(self) -> list[str]:
        """Stages that will not come back by themselves."""
        return [s.name for s in self.stages.values() if s.dead]

    def join(self, deadline: float) -> list[str]:
        """Join every stage by `deadline` (monotonic); the names still running."""
        for thread in self.threads:
            thread.join(max(deadline - time.monotonic(), 0.1))
        return [t.name for t in self.threads if t.is_alive()]
