"""The daemon's stages for what apps hear, started only for what the config asks: a
sender per delivery endpoint (each webhook, `on_upload`), the listener that hears other
processes' and hosts' events (`Feed.watch_events`), and the heartbeat. Every one runs under
the supervisor, like the upload stages.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable

from ossync.config import Config
from ossync.ledger import Ledger
from ossync.outbox import CommandHook, Endpoint, Heartbeat, Sender, Tally, Webhook
from ossync.outbox.sender import Pace
from ossync.service.logsetup import register_secrets

log = logging.getLogger("ossync.service.daemon")
Spawn = Callable[[str, Callable[[], None]], object]  # Supervisor.spawn


def endpoints(config: Config) -> list[tuple[Endpoint, Pace]]:
    """Each endpoint the config names, with its pace (retries, max age, lease)."""
    found: list[tuple[Endpoint, Pace]] = []
    for hook in config.webhooks:
        register_secrets([hook.secret, hook.secret.removeprefix("whsec_")])
        found.append((Webhook(hook), Pace.of(hook.timeout, hook.retry_max_delay,
                                             hook.max_age)))
    command = config.on_upload
    if command is not None:
        found.append((CommandHook(command, config.host), Pace.of(command.timeout,
                                                    config.retry_max_delay, command.max_age)))
    return found


class EventStages:
    def __init__(self, config: Config, ledger: Ledger, stop: threading.Event,
                 spawn: Spawn, tally: Tally | None) -> None:
        self.config = config
        self.ledger = ledger
        self.stop = stop
        self.spawn = spawn
        self.tally = tally
        self.heartbeat: Heartbeat | None = None

    def start(self, problems: Callable[[], list[str]]) -> None:
        """`problems`: why the daemon is unhealthy or its uploads held (the heartbeat's)."""
        found = endpoints(self.config)
        for endpoint, pace in found:
            sender = Sender(endpoint, self.ledger, self.stop, pace, self.tally)
            self.spawn(f"ossync-deliver-{endpoint.name}", sender.run)
        if found:
            log.info("delivering events to %s", ", ".join(e.name for e, _ in found))
        if found:  # events other hosts (or `ossync put`) record wake the senders at once
            self.spawn("ossync-events-listen",
                       functools.partial(self.ledger.watch_events, self.stop))
        if self.config.heartbeat is not None:
            self.heartbeat = Heartbeat(self.config.heartbeat, problems, self.stop)
            self.spawn("ossync-heartbeat", self.heartbeat.run)
