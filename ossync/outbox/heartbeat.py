"""A dead man's switch: `heartbeat_url` fetched (GET) every `heartbeat_interval` while the
daemon is healthy (`Daemon.health_problems()` empty) and uploads are not held, and
never otherwise — so the service watching it (healthchecks.io, Uptime Kuma's push
monitors) raises the alarm when ossync dies, hangs, or stops uploading, which no
process can report about itself. Redirects are not followed; TLS is verified.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import requests

from ossync.config import HeartbeatConfig
from ossync.core import failpoints
from ossync.core.textforms import printable

log = logging.getLogger("ossync.outbox.heartbeat")
TIMEOUT = 10.0  # seconds to connect, and to be answered


class Heartbeat:
    def __init__(self, config: HeartbeatConfig, problems: Callable[[], list[str]],
                 stop: threading.Event) -> None:
        self.config = config
        self.problems = problems  # why the daemon is not healthy, or uploads held
        self.stop = stop
        self.sent = 0  # pings the URL answered with 2xx
        self.withheld = 0  # turns without a ping: the daemon unhealthy or uploads held
        self._quiet: bool | None = None  # the last turn's verdict: withheld, or not
        self._failing = False

    def run(self) -> None:
        """The stage's body: a ping, then a wait of `interval`, until stop."""
        with requests.Session() as session:
            session.trust_env = False
            while not self.stop.is_set():
                failpoints.hit("heartbeat.loop", self.stop)
                self.beat(session)
                self.stop.wait(self.config.interval)

    def beat(self, session: requests.Session) -> bool:
        """One turn: ping if all is well (True when the URL took it)."""
        problems = self.problems()
        if problems:
            if self._quiet is not True:
                log.warning("heartbeat withheld: %s", "; ".join(problems))
            self._quiet = True
            self.withheld += 1
            return False
        if self._quiet:
            log.info("heartbeat resumed")
        self._quiet = False
        error = self._ping(session)
        if error is not None and not self._failing:
            log.warning("heartbeat_url did not take the ping: %s", error)
        elif error is None and self._failing:
            log.info("heartbeat_url takes pings again")
        self._failing = error is not None
        self.sent += error is None
        return error is None

    def _ping(self, session: requests.Session) -> str | None:
        try:
            with session.get(self.config.url, timeout=(TIMEOUT, TIMEOUT),
                             allow_redirects=False, stream=True) as answer:
                if 200 <= answer.status_code < 300:
                    return None
                return f"HTTP {answer.status_code} {answer.reason or ''}".strip()
        except requests.RequestException as exc:
            return printable(f"{type(exc).__name__}: {exc}")
