"""The credentials every store signs with, and how long a signature may live.

`Credentials` is a plain, immutable value: shared by config (which resolves them),
the targets (which sign with them) and the local endpoint (which checks them).
Temporary keys carry the moment they stop working (`expires_at`).

Keys that rotate reach a target through a `CredentialSupply`: the target asks it
for the current triple once per request (`current()`, a plain read of a
reference that a refresher swaps whole, so a request never mixes an old id with
a new token), and tells it when the store refused them (`renew()`).
`ossync.credentials` implements the rotating ones; `StaticSupply` serves fixed keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol

from ossync.core.errors import OssyncError

MAX_POLICY_LIFETIME = timedelta(days=7)  # OSS V4 and AWS SigV4 both refuse longer


@dataclass(frozen=True)
class Credentials:
    """An access key, the STS token that goes with temporary keys, and their expiry."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None  # temporary keys: when they stop working

    def secrets(self) -> tuple[str, ...]:
        """The strings that must never appear in output (for log redaction)."""
        return tuple(s for s in (self.access_key_secret, self.security_token) if s)

    def remaining(self, now: datetime) -> timedelta | None:
        """How long these keys still work from `now`; None when they do not expire."""
        return None if self.expires_at is None else self.expires_at - now


class CredentialsUnavailable(OssyncError):
    """No usable credentials right now: they expired and no fresh ones came yet.

    Not the file's fault: a worker puts its file back in the queue (not failed)."""


class CredentialSupply(Protocol):
    """Where a target gets the (id, secret, token) triple for each request."""

    @property
    def rotates(self) -> bool:
        """True when fresh keys may come later (refused keys are then worth a retry)."""
        ...

    def current(self) -> Credentials:
        """The triple to sign one request with; CredentialsUnavailable when there is none."""
        ...

    def renew(self, refused: Credentials) -> bool:
        """The store refused `refused` (expired token, unknown key): fetch fresh keys now.
        True when the current triple differs from `refused` afterwards."""
        ...


@dataclass(frozen=True)
class StaticSupply:
    """Fixed keys (the config file, systemd credentials, the environment)."""

    credentials: Credentials = field(repr=False)
    rotates: bool = False

    def current(self) -> Credentials:
        creds = self.credentials
        if creds.expires_at is not None and creds.expires_at <= datetime.now(timezone.utc):
            raise CredentialsUnavailable(f"the credentials of {creds.access_key_id} expired "
                                         f"at {creds.expires_at:%Y-%m-%dT%H:%M:%SZ}")
        return creds

    def renew(self, refused: Credentials) -> bool:
        return False


def supply_of(credentials: Credentials | CredentialSupply) -> CredentialSupply:
    """Fixed keys wrapped as a supply; a supply as it is."""
    if isinstance(credentials, Credentials):
        return StaticSupply(credentials)
    return credentials


def signing_lifetime(creds: Credentials, now: datetime, wanted: timedelta) -> timedelta:
    """`wanted`, cut short so that a form or URL signed with `creds` never outlives them.

    CredentialsUnavailable when they have already expired."""
    left = creds.remaining(now)
    if left is None or left >= wanted:
        return wanted
    if left <= timedelta(seconds=1):
        raise CredentialsUnavailable(f"the credentials of {creds.access_key_id} expire "
                                     "before a request could be signed with them")
    return left
