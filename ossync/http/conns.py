"""Connections, each on a clock: what keeps a few slow clients from taking the listener.

waitress reads without blocking, so a slow client holds no thread; what it holds is a
connection, and waitress's own limits count only those: past `connection_limit` it stops
accepting, and its idle timeout restarts at every byte (one byte a second keeps a
connection forever). So each connection here is watched:

- **a deadline**: a whole request, headers and body, within `http.request_timeout` of
  the moment the connection opened or its last answer went out (an answer still being
  read counts while bytes move). A sweep every second closes the late ones.
- **a cap per client** (`http.client_connections`, `limits.client_key`: all of loopback
  is one client) and **a cap in all** (`MAX_CONNECTIONS`). A new connection beyond either
  closes the oldest connection that is only waiting (no request being answered) — of
  that client, or of anyone — rather than being turned away: whoever floods a cap
  pushes out their own stalled connections, and a monitor's fresh one (from the same
  loopback address as the flood, too) gets in. Only when every connection is busy
  being answered is a new one refused (503).
- **the rate limit counts connections**: each new one takes a token from its client's
  bucket, as each request does; an empty bucket refuses it (429). Loopback connections
  are not counted: every local process, the health checker among them, shares that
  address, and a local flood is already bounded by the caps and the deadline above.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from socket import socket
from typing import Any, cast

from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer

from ossync.http.limits import LOOPBACK, RateLimiter, client_key

MAX_CONNECTIONS = 256  # open at once, from everyone (file descriptors are finite)
SWEEP_EVERY = 1  # seconds between looks at the deadlines


@dataclass(frozen=True)
class Policy:
    per_client: int  # http.client_connections
    deadline: float  # http.request_timeout
    limiter: RateLimiter  # the one the requests take from too
    total: int = MAX_CONNECTIONS


class Channel(HTTPChannel):
    """A waitress connection that knows its client and since when it has been waiting."""

    def __init__(self, server: Server, sock: socket, addr: Any, adj: Any,
                 map: Any = None) -> None:
        self.client = client_key(str(addr[0]) if isinstance(addr, tuple) else "")
        self.waiting_since = time.monotonic()
        self.unsent = 0  # answer bytes not yet taken by the client, at the last sweep
        super().__init__(server, sock, addr, adj, map)
        server.admit(self)

    def service(self) -> None:
        try:
            super().service()
        finally:
            self.waiting_since = time.monotonic()  # the clock restarts after each answer

    @property
    def busy(self) -> bool:
        """A request of it is being answered (or waits for a handler thread)."""
        return bool(self.requests)

    def overdue(self, now: float, deadline: float) -> bool:
        """Past its deadline? An answer still being read restarts the clock while the
        client takes bytes of it (between two sweeps)."""
        if self.busy:
            return False
        if self.total_outbufs_len != self.unsent:  # the client reads its answer
            self.unsent = self.total_outbufs_len
            self.waiting_since = now
        return now - self.waiting_since > deadline

    def turn_away(self, status: str, retry_after: int) -> None:
        """Answer before reading anything, and close once that is sent."""
        reply = (f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: 0\r\n"
                 f"Retry-After: {retry_after}\r\n\r\n").encode("ascii")
        self.outbufs[-1].append(reply)
        self.total_outbufs_len += len(reply)
        self.close_when_flushed = True


class Server(TcpWSGIServer):
    """waitress's server with the admission and the deadlines of this module."""

    channel_class = Channel

    def __init__(self, application: Any, policy: Policy, **kwargs: Any) -> None:
        self.policy = policy
        super().__init__(application, **kwargs)

    def _live(self) -> Iterable[Channel]:
        channels = cast(dict[int, Channel], self.active_channels)
        return [c for c in channels.values() if not (c.will_close or c.close_when_flushed)]

    def admit(self, new: Channel) -> None:
        """Runs on the I/O thread as `new` is accepted: take it, make room, or turn it away."""
        policy = self.policy
        if new.client != LOOPBACK:
            wait = policy.limiter.take(new.client)
            if wait:
                new.turn_away("429 Too Many Requests", max(1, math.ceil(wait)))
                return
        others = [c for c in self._live() if c is not new]
        mine = [c for c in others if c.client == new.client]
        if len(mine) >= policy.per_client and not _close_oldest_waiting(mine):
            new.turn_away("503 Service Unavailable", 1)
            return
        others = [c for c in others if not c.will_close]
        if len(others) >= policy.total and not _close_oldest_waiting(others):
            new.turn_away("503 Service Unavailable", 1)

    def maintenance(self, now: float) -> None:
        """Close the connections past their deadline (waitress calls this every
        `cleanup_interval` seconds from its I/O thread)."""
        moment = time.monotonic()
        for channel in self._live():
            if channel.overdue(moment, self.policy.deadline):
                channel.will_close = True


def _close_oldest_waiting(channels: list[Channel]) -> bool:
    waiting = [c for c in channels if not c.busy and not c.will_close]
    if not waiting:
        return False
    min(waiting, key=lambda c: c.waiting_since).will_close = True
    return True
