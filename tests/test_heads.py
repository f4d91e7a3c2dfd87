"""Many HEADs at once for rebuild and verify: answers in the order asked, a retryable
error tried again, a lasting one handed back, and the rate bound kept."""

from __future__ import annotations

import threading
import time

from ossync.cli.heads import Heads, Pace
from ossync.core.errors import StoreError
from ossync.core.objects import ListPage, ObjectInfo


class Reader:
    """A `BucketReader` whose HEADs answer from a dict; `flaky` keys fail once."""

    def __init__(self, keys: list[str], flaky: set[str], broken: set[str]) -> None:
        self.keys, self.flaky, self.broken = keys, set(flaky), broken
        self.lock = threading.Lock()
        self.calls: list[str] = []

    def head(self, key: str) -> ObjectInfo | None:
        with self.lock:
            self.calls.append(key)
            if key in self.flaky:
                self.flaky.discard(key)
                raise StoreError("head", key, "SlowDown", "slow down", 503, retryable=True)
        if key in self.broken:
            raise StoreError("head", key, "AccessDenied", "no", 403)
        return None if key == "gone" else ObjectInfo(key, len(key), None, None, None)

    def list_page(self, prefix: str, token: str | None) -> ListPage:
        raise AssertionError

    def tags_of(self, key: str) -> dict[str, str]:
        raise AssertionError

    def url_for(self, key: str) -> str:
        return key

    def close(self) -> None:
        pass


def test_answers_come_in_order_with_retries_and_errors() -> None:
    keys = [f"k{i:03d}" for i in range(100)] + ["gone", "denied"]
    reader = Reader(keys, flaky={"k007"}, broken={"denied"})
    with Heads(reader, 8, None) as heads:
        answers = list(heads.of(keys))
    assert [a.key for a in answers] == keys
    assert answers[7].info is not None and reader.calls.count("k007") == 2
    assert answers[-2].info is None and answers[-2].error is None  # no such object
    assert answers[-1].error is not None and answers[-1].error.code == "AccessDenied"
    assert reader.calls.count("denied") == 1  # not worth another try


def test_the_rate_bound_holds_across_threads() -> None:
    pace = Pace(200.0)
    began = time.monotonic()
    threads = [threading.Thread(target=lambda: [pace.wait() for _ in range(10)])
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - began >= 39 / 200  # 40 starts at 200 a second
    unbounded = Pace(None)
    began = time.monotonic()
    for _ in range(1000):
        unbounded.wait()
    assert time.monotonic() - began < 0.1
