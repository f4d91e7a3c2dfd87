"""What credential sources hand back: JSON documents with a key id, a secret, a token and
an expiry time, in the shapes Alibaba's and AWS's tools use.

Accepted field names (the first found wins):

    key id      AccessKeyId, access_key_id
    secret      AccessKeySecret (Alibaba), SecretAccessKey (AWS), access_key_secret
    token       SecurityToken (Alibaba), SessionToken (AWS), Token (EC2 metadata),
                sts_token (Aliyun CLI), security_token
    expiry      Expiration, expiration (ISO 8601, e.g. 2026-11-25T10:00:00Z)

A `Code` other than `Success` (metadata services) and a `Version` other than 1 (AWS
credential processes) are refused. No message here ever quotes a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ossync.core.credentials import Credentials
from ossync.core.errors import OssyncError

KEY_ID = ("AccessKeyId", "access_key_id")
SECRET = ("AccessKeySecret", "SecretAccessKey", "access_key_secret")
TOKEN = ("SecurityToken", "SessionToken", "Token", "sts_token", "security_token")
EXPIRY = ("Expiration", "expiration")
# Long opaque runs (keys, secrets, tokens) that may hide in a credential helper's stderr.
_OPAQUE = re.compile(r"[A-Za-z0-9+/=_\-]{20,}")


class CredentialError(OssyncError):
    """A source could not hand out credentials; the text names the source and the cause
    and never contains a secret."""


def _first(doc: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = doc.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def parse_expiration(text: str) -> datetime:
    """`2026-11-25T10:00:00Z` (or with fractions or an offset) → an aware UTC datetime."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("Expiration is not an ISO 8601 time (e.g. 2026-11-25T10:00:00Z)"
                         ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def credentials_from(doc: object, origin: str) -> Credentials:
    """The complete triple (and expiry) in a parsed document; CredentialError otherwise."""
    if not isinstance(doc, Mapping):
        raise CredentialError(f"{origin}: expected a JSON object with AccessKeyId and "
                              "AccessKeySecret")
    code = doc.get("Code")
    if code is not None and code != "Success":
        raise CredentialError(f"{origin}: the answer says Code {str(code)[:40]!r}, "
                              "not Success")
    version = doc.get("Version")
    if version is not None and version != 1:
        raise CredentialError(f"{origin}: Version must be 1")
    key_id, secret = _first(doc, KEY_ID), _first(doc, SECRET)
    if not key_id or not secret:
        missing = "AccessKeyId" if not key_id else "AccessKeySecret (or SecretAccessKey)"
        raise CredentialError(f"{origin}: {missing} is missing")
    expiry = _first(doc, EXPIRY)
    try:
        expires_at = parse_expiration(expiry) if expiry else None
    except ValueError as exc:
        raise CredentialError(f"{origin}: {exc}") from None
    return Credentials(key_id, secret, _first(doc, TOKEN), expires_at)


def credentials_from_json(text: str, origin: str) -> Credentials:
    """`credentials_from` over JSON text; a cut-off document (a file caught half
    written) is a CredentialError like any other."""
    if not text.strip():
        raise CredentialError(f"{origin}: empty")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        where = f"line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else "somewhere"
        raise CredentialError(f"{origin}: not complete JSON ({where}); a writer may be "
                              "half-way through it") from None
    return credentials_from(doc, origin)


def mask(text: str, creds: Credentials | None = None) -> str:
    """Text from a credential helper made safe to log: the keys it handed out, and any
    long opaque string that may be another key, become `***`."""
    if creds is not None:
        for secret in (*creds.secrets(), creds.access_key_id):
            if secret:
                text = text.replace(secret, "***")

    def hide(match: re.Match[str]) -> str:
        run = match.group(0)
        mixed = any(c.isdigit() for c in run) and any(c.isupper() for c in run) and any(
            c.islower() for c in run)
        return "***" if mixed else run

    return _OPAQUE.sub(hide, text)


def masked_key_id(key_id: str) -> str:
    """`STS.…9f3a`: enough to tell keys apart in a log, not enough to use one."""
    return f"{key_id[:4]}…{key_id[-4:]}" if len(key_id) > 12 else "…"
