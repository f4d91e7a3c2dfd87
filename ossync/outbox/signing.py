"""Standard Webhooks signatures (spec v1): `webhook-signature: v1,<base64 HMAC-SHA256>`
over `{id}.{timestamp}.{body}`, keyed with the secret's bytes (the base64 after
`whsec_`). Pure: no clock, no network. Receivers check it with the spec's libraries
(`standardwebhooks.Webhook(secret).verify(body, headers)`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

PREFIX = "whsec_"


def key_of(secret: str) -> bytes:
    """The HMAC key of a `whsec_…` secret (ossync.config.events checked its form)."""
    return base64.b64decode(secret.removeprefix(PREFIX), validate=True)


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")
