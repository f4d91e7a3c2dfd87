"""The credentials every store signs with, and how long a signature may live.

A plain value type, shared by config (which resolves them), the targets (which
sign with them) and the local endpoint (which checks them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

MAX_POLICY_LIFETIME = timedelta(days=7)  # OSS V4 and AWS SigV4 both refuse longer


@dataclass(frozen=True)
class Credentials:
    """An access key, and the STS token that goes with temporary keys."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)

    def secrets(self) -> tuple[str, ...]:
        """The strings that must never appear in output (for log redaction)."""
        return tuple(s for s in (self.access_key_secret, self.security_token) if s)
