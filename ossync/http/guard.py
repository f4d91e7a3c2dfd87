"""Who may ask: the bearer token (or the session cookie the status page's login sets),
compared in constant time; a token bucket per client address; the Host check that
keeps a token-less loopback listener out of reach of DNS rebinding; and the CSRF token
the page's retry button carries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from ossync.config import HttpConfig

SESSION_COOKIE = "ossync_session"
MAX_CLIENTS = 4096  # token buckets kept; a full table forgets the idlest clients
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def _host_name(value: str) -> str:
    """`host:port`, `[v6]:port` or `host` → the host, lower case, without brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    def __init__(self, config: HttpConfig) -> None:
        self.token = config.token
        self._key = secrets.token_bytes(32)  # CSRF tokens of this process only
        self._session = None if config.token is None else hmac.new(
            config.token.encode(), b"ossync-session-v1", hashlib.sha256).hexdigest()
        self.hosts = None if config.token else LOOPBACK_NAMES | {config.host.lower()}
        self.limiter = RateLimiter(config.rate_limit, config.rate_burst)

    @property
    def needs_token(self) -> bool:
        return self.token is not None

    def host_allowed(self, host_header: str | None) -> bool:
        """Without a token only a loopback name may be asked for (DNS rebinding)."""
        if self.hosts is None:
            return True
        return host_header is not None and _host_name(host_header) in self.hosts

    def authorized(self, authorization: str | None, cookie: str | None) -> bool:
        """True without a token; else the bearer token, or the page's session cookie."""
        if self.token is None:
            return True
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and given:
            return _same(given.strip(), self.token)
        session = _cookie(cookie, SESSION_COOKIE)
        return session is not None and self._session is not None and hmac.compare_digest(
            session.encode(), self._session.encode())

    def login(self, given: str) -> str | None:
        """The session cookie's value for a right token typed into the page, else None."""
        if self.token is None or self._session is None:
            return None
        if not _same(given.strip(), self.token):
            return None
        return self._session

    def csrf(self, cookie: str | None) -> str:
        """The page's form token, bound to this process and to the session (if any)."""
        bound = (_cookie(cookie, SESSION_COOKIE) or "").encode()
        return hmac.new(self._key, b"retry|" + bound, hashlib.sha256).hexdigest()

    def csrf_ok(self, given: str, cookie: str | None) -> bool:
        return hmac.compare_digest(given.encode(), self.csrf(cookie).encode())


def _same(given: str, expected: str) -> bool:
    """Constant time, whatever the lengths: the digests are compared, not the texts."""
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(),
                               hashlib.sha256(expected.encode()).digest())


def same_origin(origin: str | None, host_header: str | None) -> bool:
    """A browser's Origin (when it sends one) names the host it was asked for."""
    if not origin:
        return True
    if origin == "null" or not host_header:
        return False
    return urlsplit(origin).netloc.lower() == host_header.strip().lower()


def _cookie(header: str | None, name: str) -> str | None:
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get(name)
    return None if morsel is None else morsel.value


class RateLimiter:
    """A token bucket per client address: `rate` requests a second, bursts of `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # address → (tokens, at)
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
