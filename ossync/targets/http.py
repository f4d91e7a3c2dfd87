"""What every HTTP object-store target shares: one keep-alive session for all worker
threads, timeouts, the base of object URLs, and a clock corrected from the server's."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import requests
from requests.adapters import HTTPAdapter

from ossync.core.addressing import object_url

USER_AGENT = "ossync"


def server_offset(resp: requests.Response) -> timedelta | None:
    """The server's clock minus ours, from its Date header; None if it says nothing."""
    date = resp.headers.get("Date", "")
    if date.count(",") > 1:  # two Date headers joined by requests: take the last
        date = date.split(",", 2)[-1]
    try:
        server = parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError):
        return None
    if server.tzinfo is None:  # "-0000" and odd forms parse naive: they mean UTC
        server = server.replace(tzinfo=timezone.utc)
    return server - datetime.now(timezone.utc)


class HttpTarget:
    def __init__(self, *, base_url: str, public_url: str | None, policy_lifetime: float,
                 connect_timeout: float, read_timeout: float, pool_size: int) -> None:
        self.base_url = base_url
        self.public_base = (public_url or base_url).rstrip("/")
        self.policy_lifetime = timedelta(seconds=policy_lifetime)
        self.timeout = (connect_timeout, read_timeout)
        self.clock_offset = timedelta(0)  # learnt from the server when our clock is off
        self._lock = threading.Lock()
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = USER_AGENT

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.clock_offset

    def url_for(self, key: str) -> str:
        return object_url(self.public_base, key)

    def close(self) -> None:
        self.session.close()

    def _learn_clock(self, resp: requests.Response,
                     min_change: timedelta = timedelta(0)) -> bool:
        """Take the server's clock from its Date header; False if it says nothing or is
        within `min_change` of what we already use."""
        offset = server_offset(resp)
        with self._lock:
            if offset is None or (min_change and abs(offset - self.clock_offset) <= min_change):
                return False
            self.clock_offset = offset
        return True
