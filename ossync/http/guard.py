"""Who may ask: the bearer token, compared in constant time, for the API and the metrics;
the token or a signed-in session (`sessions`) for the status page and its forms; the
Host check that keeps a token-less loopback listener out of reach of DNS rebinding; the
CSRF token each form carries, bound to its session; and the per-client rate limit.

Without a token the guarded routes are open, unless the config requires a token
(`http.require_token`): then they are shut until one is set.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from ossync.config import HttpConfig
from ossync.http.limits import RateLimiter
from ossync.http.sessions import Sessions

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def _host_name(value: str) -> str:
    """`host:port`, `[v6]:port` or `host` → the host, lower case, without brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    def __init__(self, config: HttpConfig, port: int, limiter: RateLimiter) -> None:
        self.token = config.token
        self.locked = config.locked  # a token is required and none is set
        self._key = secrets.token_bytes(32)  # CSRF tokens of this process only
        self.sessions = Sessions(port, config.session_lifetime)
        self.hosts = None if config.token else LOOPBACK_NAMES | {config.host.lower()}
        self.limiter = limiter  # the connections take from it too (ossync.http.conns)

    @property
    def needs_token(self) -> bool:
        return self.token is not None or self.locked

    def host_allowed(self, host_header: str | None) -> bool:
        """Without a token only a loopback name may be asked for (DNS rebinding)."""
        if self.hosts is None:
            return True
        return host_header is not None and _host_name(host_header) in self.hosts

    def bearer(self, authorization: str | None) -> bool:
        """The API's and the metrics' check: the bearer token (anyone, without one)."""
        if self.token is None:
            return not self.locked
        scheme, _, given = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and bool(given) and _same(given.strip(), self.token)

    def page(self, authorization: str | None, cookie: str | None) -> tuple[bool, str | None]:
        """The status page's check: (allowed, the session id if a session allowed it)."""
        if self.bearer(authorization):
            return True, None
        sid = None if self.token is None else self.sessions.current(cookie)
        return sid is not None, sid

    def login(self, given: str) -> str | None:
        """A new session's id for the right token typed into the page, else None."""
        if self.token is None or not _same(given.strip(), self.token):
            return None
        return self.sessions.start()

    def csrf(self, sid: str | None) -> str:
        """The page's form token, bound to this process and to the session (if any)."""
        return hmac.new(self._key, b"form|" + (sid or "").encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, given: str, sid: str | None) -> bool:
        return hmac.compare_digest(given.encode(), self.csrf(sid).encode())


def _same(given: str, expected: str) -> bool:
    """Constant time, whatever the lengths: the digests are compared, not the texts."""
    return hmac.compare_digest(hashlib.sha256(given.encode("utf-8", "replace")).digest(),
                               hashlib.sha256(expected.encode()).digest())


def one_of(given: str, tokens: tuple[str, ...]) -> bool:
    """`given` is one of `tokens`: every one compared, in constant time each."""
    found = False
    for token in tokens:
        found |= _same(given, token)
    return found and bool(given)


def same_origin(origin: str | None, host_header: str | None) -> bool:
    """A browser's Origin (when it sends one) names the host it was asked for."""
    if not origin:
        return True
    if origin == "null" or not host_header:
        return False
    return urlsplit(origin).netloc.lower() == host_header.strip().lower()
