"""max_bandwidth: rate parsing, daily schedules, and the shared token bucket, driven by a
clock of the test's own (so the arithmetic is checked exactly, without timing)."""

from __future__ import annotations

import threading
from datetime import datetime, timezone, tzinfo

import pytest

from ossync.core.throttle import (
    BandwidthSchedule,
    Share,
    Throttle,
    describe,
    parse_schedule,
)
from ossync.core.units import format_rate, parse_rate


@pytest.mark.parametrize(("text", "rate"), [
    ("20MB/s", 20e6), ("20 MB/s", 20e6), ("512KiB/s", 512 * 1024), ("5MiB/s", 5 * 2**20),
    ("100Mbit/s", 12.5e6), ("100mbps", 12.5e6), ("8kbit/s", 1000), ("1.5GB/s", 1.5e9),
    (5_000_000, 5e6), ("off", None), ("unlimited", None), ("none", None), (0, None),
])
def test_rates(text: object, rate: float | None) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("bad", ["20MB", "fast", "-5MB/s", "MB/s", True, "20 MB per s"])
def test_bad_rates_are_refused_with_an_example(bad: object) -> None:
    with pytest.raises(ValueError, match="20MB/s"):
        parse_rate(bad)


def test_rates_print_in_decimal_units() -> None:
    assert [format_rate(r) for r in (5e6, 12.5e6, 512e3, 1.5e9, None)] == [
        "5 MB/s", "12.5 MB/s", "512 kB/s", "1.5 GB/s", "off"]


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 4, hour, minute, tzinfo=timezone.utc)


def test_schedule_windows_and_the_rest_of_the_day() -> None:
    schedule = parse_schedule(["08:00-19:00 5MB/s", "19:00-23:00 off", "20MB/s"])
    assert schedule.rate_at(_at(7, 59)) == 20e6
    assert schedule.rate_at(_at(8)) == 5e6
    assert schedule.rate_at(_at(18, 59)) == 5e6
    assert schedule.rate_at(_at(19)) is None
    assert schedule.rate_at(_at(23, 30)) == 20e6
    assert "08:00-19:00 5 MB/s" in describe(schedule)


def test_a_window_may_wrap_past_midnight_and_the_rest_is_unlimited() -> None:
    schedule = parse_schedule(["22:00-06:00 50MB/s"])
    assert schedule.rate_at(_at(23)) == 50e6
    assert schedule.rate_at(_at(5, 59)) == 50e6
    assert schedule.rate_at(_at(6)) is None
    assert schedule.limited


def test_a_window_may_run_to_midnight_or_all_day() -> None:
    assert parse_schedule(["00:00-24:00 1MB/s"]).rate_at(_at(23, 59)) == 1e6
    evening = parse_schedule(["18:00-24:00 2MB/s"])
    assert evening.rate_at(_at(23, 59)) == 2e6 and evening.rate_at(_at(0)) is None


def test_a_plain_rate_is_a_schedule_of_one_rate() -> None:
    assert parse_schedule("5MB/s") == BandwidthSchedule(5e6)
    assert not parse_schedule("off").limited
    assert describe(None) == "off"


@pytest.mark.parametrize(("entries", "message"), [
    (["08:00-19:00 5MB/s", "1MB/s", "2MB/s"], "only one entry"),
    (["25:00-26:00 1MB/s"], "00:00 to 24:00"),
    (["08:00-08:00 1MB/s"], "must not start where it ends"),
    (["08:00-19:00 fast"], "not a rate"),
])
def test_bad_schedules_say_what_is_wrong(entries: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_schedule(entries)


class FakeTime:
    """A clock and a sleep that advances it: Throttle's waits, added up exactly."""

    def __init__(self, wall: datetime) -> None:
        self.now = 1000.0
        self.wall = wall
        self.slept = 0.0
        self.lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.slept += seconds
            self.now += seconds

    def wall_at(self, zone: tzinfo) -> datetime:
        return self.wall


def _throttle(schedule: BandwidthSchedule, fake: FakeTime) -> Throttle:
    return Throttle(schedule, clock=fake.clock, wall=fake.wall_at, sleep=fake.sleep)


def test_bytes_leave_at_the_rate_give_or_take_one_burst() -> None:
    fake = FakeTime(_at(12))
    throttle = _throttle(BandwidthSchedule(5e6), fake)
    start = fake.now
    sent = 0
    while fake.now - start < 60:
        throttle.take(16 * 1024)
        sent += 16 * 1024
    elapsed = fake.now - start
    assert abs(sent / elapsed - 5e6) / 5e6 < 0.01
    assert sent <= 5e6 * elapsed + 5e6 * 0.1 + 16 * 1024


def test_no_limit_costs_no_wait() -> None:
    fake = FakeTime(_at(12))
    throttle = _throttle(BandwidthSchedule(None), fake)
    for _ in range(1000):
        throttle.take(1 << 20)
    assert fake.slept == 0
    assert throttle.rate is None


def test_threads_share_one_bucket() -> None:
    """Four senders at once get the rate between them, not four times it."""
    fake = FakeTime(_at(12))
    throttle = _throttle(BandwidthSchedule(1e6), fake)
    per_thread = 50 * 64 * 1024

    def send() -> None:
        for _ in range(50):
            throttle.take(64 * 1024)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    # Every byte beyond the first burst had to be waited for (sleeps add up across
    # threads here, so the total wait is at least what the bytes cost at 1 MB/s).
    assert fake.slept >= (4 * per_thread - 1e6 * 0.1) / 1e6


def test_the_schedule_is_followed_as_the_day_goes_and_a_new_one_applies_at_once() -> None:
    fake = FakeTime(_at(7, 59))
    throttle = _throttle(parse_schedule(["08:00-19:00 1MB/s"]), fake)
    assert throttle.rate is None
    fake.wall = _at(8, 0)
    fake.now += 2  # the schedule is looked at once a second
    assert throttle.rate == 1e6
    throttle.set_schedule(parse_schedule("10MB/s"))
    assert throttle.rate == 10e6
    throttle.set_schedule(None)
    assert throttle.rate is None


@pytest.mark.parametrize(("host", "own", "rate"), [(10e6, 5e6, 5e6), (2e6, 5e6, 2e6),
                                                  (None, 3e6, 3e6)])
def test_a_replicas_share_is_capped_by_its_own_rate_and_the_hosts(
        host: float | None, own: float, rate: float) -> None:
    fake = FakeTime(_at(12))
    shared = _throttle(BandwidthSchedule(host), fake)
    share = Share(shared, BandwidthSchedule(own), clock=fake.clock, wall=fake.wall_at,
                  sleep=fake.sleep)
    start, sent = fake.now, 0
    while fake.now - start < 60:
        share.take(16 * 1024)
        sent += 16 * 1024
    assert abs(sent / (fake.now - start) - rate) / rate < 0.02
