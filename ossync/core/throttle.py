"""`max_bandwidth`: one token bucket for every byte this host sends, shared by all
workers and parts, with a rate that may follow the time of day.

Senders call `Throttle.take(n)` before handing n bytes to the socket. The bucket holds
at most a short burst (a tenth of a second of traffic, at least 64 KiB); a sender that
finds it empty takes the debt and sleeps it off, so over any stretch of time no more
than rate × time + one burst leaves, however many threads send.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Any

from ossync.core.units import format_rate, parse_rate

BURST_SECONDS = 0.1
MIN_BURST = 64 * 1024
RECHECK = 1.0  # seconds between looks at the schedule
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s+(.+?)\s*$")


@dataclass(frozen=True)
class Window:
    """A daily span of local time in minutes after midnight (`end` up to 1440, 24:00); it
    wraps past midnight when it ends before it starts."""

    start: int
    end: int
    rate: float | None  # bytes per second; None: no limit

    def covers(self, minute: int) -> bool:
        if self.start <= self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def __str__(self) -> str:
        return (f"{self.start // 60:02d}:{self.start % 60:02d}-"
                f"{self.end // 60:02d}:{self.end % 60:02d} {format_rate(self.rate)}")


@dataclass(frozen=True)
class BandwidthSchedule:
    """The rate at each time of day: the first window that covers it, else `default`."""

    default: float | None = None
    windows: tuple[Window, ...] = ()

    def rate_at(self, moment: datetime) -> float | None:
        minute = moment.hour * 60 + moment.minute
        for window in self.windows:
            if window.covers(minute):
                return window.rate
        return self.default

    @property
    def limited(self) -> bool:
        return self.default is not None or any(w.rate is not None for w in self.windows)

    def __str__(self) -> str:
        if not self.windows:
            return format_rate(self.default)
        parts = [str(w) for w in self.windows]
        return ", ".join([*parts, f"otherwise {format_rate(self.default)}"])


def parse_schedule(value: object) -> BandwidthSchedule:
    """`20MB/s`, `off`, or a list of `HH:MM-HH:MM RATE` entries and at most one plain
    `RATE` (the rest of the day; without one, the rest of the day is unlimited)."""
    if not isinstance(value, (list, tuple)):
        return BandwidthSchedule(parse_rate(value))
    default: float | None = None
    seen_default = False
    windows: list[Window] = []
    for entry in value:
        match = _WINDOW.match(str(entry))
        if match is None:
            if seen_default:
                raise ValueError(f"{entry!r}: only one entry may be a plain rate (the rest "
                                 "of the day); others are HH:MM-HH:MM RATE")
            default, seen_default = parse_rate(entry), True
            continue
        h1, m1, h2, m2 = (int(match.group(i)) for i in range(1, 5))
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"{entry!r}: times run from 00:00 to 24:00")
        if (h1, m1) == (h2, m2):
            raise ValueError(f"{entry!r}: a window must not start where it ends")
        windows.append(Window(h1 * 60 + m1, h2 * 60 + m2, parse_rate(match.group(5))))
    return BandwidthSchedule(default, tuple(windows))


class Throttle:
    """The shared bucket. `take()` is cheap while no limit applies."""

    def __init__(self, schedule: BandwidthSchedule | None = None, *,
                 zone: tzinfo = timezone.utc, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[tzinfo], datetime] = datetime.now,
                 sleep: Callable[[float], object] = time.sleep) -> None:
        self._lock = threading.Lock()
        self._zone = zone
        self._clock, self._wall, self._sleep = clock, wall, sleep
        self._schedule = schedule or BandwidthSchedule()
        self._rate: float | None = None
        self._tokens = 0.0
        self._last = clock()
        self._next_check = self._last
        self._refresh(self._last)

    @property
    def rate(self) -> float | None:
        """Bytes per second allowed now; None: no limit."""
        with self._lock:
            self._refresh(self._clock())
            return self._rate

    @property
    def schedule(self) -> BandwidthSchedule:
        return self._schedule

    def set_schedule(self, schedule: BandwidthSchedule | None, zone: tzinfo | None = None
                     ) -> None:
        """A new `max_bandwidth` (SIGHUP): takes effect at once."""
        with self._lock:
            self._schedule = schedule or BandwidthSchedule()
            if zone is not None:
                self._zone = zone
            self._next_check = self._clock()
            self._refresh(self._next_check)

    def take(self, n: int) -> None:
        """Wait until `n` more bytes may go."""
        if not self._schedule.limited:
            return
        with self._lock:
            now = self._clock()
            self._refresh(now)
            rate = self._rate
            if rate is None:
                return
            self._tokens = min(self._tokens + (now - self._last) * rate, _burst(rate))
            self._last = now
            self._tokens -= n
            wait = -self._tokens / rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)

    def _refresh(self, now: float) -> None:
        """Look at the schedule once a second; a new rate starts with an empty bucket
        (under the lock)."""
        if now < self._next_check:
            return
        self._next_check = now + RECHECK
        rate = self._schedule.rate_at(self._wall(self._zone))
        if rate != self._rate:
            self._rate = rate
            self._tokens = 0.0 if rate is None else min(self._tokens, _burst(rate))
            self._last = now


class Share(Throttle):
    """A destination's own cap within the host's (`replicas[].max_bandwidth`): bytes wait
    for its own bucket, then for the host's, which every destination shares."""

    def __init__(self, host: Throttle, schedule: BandwidthSchedule | None, *,
                 zone: tzinfo = timezone.utc, **clocks: Any) -> None:
        super().__init__(schedule, zone=zone, **clocks)  # (a test's clock, wall and sleep)
        self.host = host

    def take(self, n: int) -> None:
        super().take(n)
        self.host.take(n)


def _burst(rate: float) -> float:
    return max(rate * BURST_SECONDS, MIN_BURST)


def describe(schedule: BandwidthSchedule | None) -> str:
    """For the log: `off`, `5 MB/s`, or the windows."""
    return "off" if schedule is None or not schedule.limited else str(schedule)


__all__: Sequence[str] = ("BandwidthSchedule", "Share", "Throttle", "Window", "describe",
                          "parse_schedule")
