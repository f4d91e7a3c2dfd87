"""Who a client is, for the limits that count per client, and the token bucket that
counts them.

A client is its address, except where an address says little: every process of this
host shares loopback (127.0.0.0/8 and ::1 are one client, whichever of them it
connects from), and whoever has one IPv6 address usually has its whole /64."""

from __future__ import annotations

import ipaddress
import threading
import time

MAX_CLIENTS = 4096  # token buckets kept; a full table forgets the idlest clients
LOOPBACK = "loopback"


def client_key(address: str) -> str:
    """`loopback`, an IPv4 address, an IPv6 /64 (`2001:db8::/64`), or the text as given."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return LOOPBACK
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class RateLimiter:
    """A token bucket per client: `rate` a second, bursts of `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # client → (tokens, at)
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 when the request may go ahead, else the seconds until it could."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens < 1:
                self._buckets[client] = (tokens, now)
                return (1 - tokens) / self.rate
            if client not in self._buckets and len(self._buckets) >= MAX_CLIENTS:
                self._forget(now)
            self._buckets[client] = (tokens - 1, now)
            return 0.0

    def _forget(self, now: float) -> None:
        """Drop the buckets that have refilled (their clients are idle), or the oldest half."""
        full = [c for c, (t, at) in self._buckets.items()
                if t + (now - at) * self.rate >= self.burst]
        if len(full) < len(self._buckets) // 2:
            by_age = sorted(self._buckets, key=lambda c: self._buckets[c][1])
            full = by_age[: len(by_age) // 2]
        for client in full:
            del self._buckets[client]
