"""Status page sign-ins: a random id per sign-in, kept in memory with its expiry, so the
cookie is never the token (nor derived from it), ends at sign-out or after
`http.session_lifetime`, and is worth nothing to anyone but this listener's page.

Cookies are not port-scoped: a browser sends them to every port of the host. The cookie's
name carries the port, so two listeners on one host keep apart, and what another
service on the host might read is an id that opens only this status page, for a while.
The listener speaks plain HTTP, so the cookie has no `Secure` flag (reach the listener
from other hosts through a TLS proxy).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict

MAX_SESSIONS = 256  # sign-ins kept; one more ends the oldest
ID_BYTES = 32


class Sessions:
    def __init__(self, port: int, lifetime: float) -> None:
        self.cookie_name = f"ossync_session_{port}"
        self.lifetime = lifetime
        self._ends: OrderedDict[str, float] = OrderedDict()  # id → monotonic expiry
        self._lock = threading.Lock()

    def start(self) -> str:
        """A new session's id; the oldest goes when the table is full."""
        sid = secrets.token_urlsafe(ID_BYTES)
        with self._lock:
            while len(self._ends) >= MAX_SESSIONS:
                self._ends.popitem(last=False)
            self._ends[sid] = time.monotonic() + self.lifetime
        return sid

    def current(self, cookie_header: str | None) -> str | None:
        """The id of the live session the request's cookie names, else None."""
        sid = cookie_value(cookie_header, self.cookie_name)
        if sid is None:
            return None
        with self._lock:
            ends = self._ends.get(sid)
            if ends is None:
                return None
            if ends <= time.monotonic():
                del self._ends[sid]
                return None
        return sid

    def end(self, sid: str) -> None:
        with self._lock:
            self._ends.pop(sid, None)

    def set_cookie(self, sid: str) -> str:
        return (f"{self.cookie_name}={sid}; Path=/; Max-Age={int(self.lifetime)}; HttpOnly; "
                "SameSite=Strict")

    def clear_cookie(self) -> str:
        return f"{self.cookie_name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"


def cookie_value(header: str | None, name: str) -> str | None:
    """`name`'s value in a Cookie header, read pair by pair: another site's odd cookie on
    the same host cannot hide ours (as it can from http.cookies)."""
    for pair in (header or "").split(";"):
        key, sep, value = pair.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"')
    return None
