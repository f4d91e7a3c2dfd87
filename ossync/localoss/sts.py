"""Temporary keys for the local endpoint, handed out the way Alibaba STS does: an
`STS.` key id, a secret and a long security token (1-2 KB, like real ones), valid
for a lifetime.

The endpoint accepts an issued key only with its own token and only until it expires;
after that it answers as OSS does, `403 SecurityTokenExpired` "The security token you
provided has expired." (S3 requests: `400 ExpiredToken`). Issued keys are remembered
for the life of the issuer, so an expired one is told apart from an unknown one.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from ossync.core.credentials import Credentials

TOKEN_BYTES = 900  # a base64 token of 1,200 characters, in the range real ones have


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class StsIssuer:
    """Mints temporary keys the endpoint then accepts until their expiry."""

    def __init__(self, clock: Callable[[], datetime] = _utcnow) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._issued: dict[str, Credentials] = {}
        self.presented: set[str] = set()  # issued key ids that requests have come with

    def issue(self, lifetime: float | timedelta) -> Credentials:
        """Fresh keys valid from now for `lifetime` (whole seconds, as STS gives them)."""
        seconds = lifetime.total_seconds() if isinstance(lifetime, timedelta) else lifetime
        expires = self.clock().replace(microsecond=0) + timedelta(seconds=int(seconds))
        creds = Credentials("STS." + secrets.token_hex(12), secrets.token_urlsafe(30),
                            "CAIS" + secrets.token_urlsafe(TOKEN_BYTES), expires)
        with self._lock:
            self._issued[creds.access_key_id] = creds
        return creds

    def find(self, access_key_id: str) -> Credentials | None:
        with self._lock:
            creds = self._issued.get(access_key_id)
            if creds is not None:
                self.presented.add(access_key_id)
            return creds

    @property
    def issued(self) -> int:
        with self._lock:
            return len(self._issued)
