"""Forms an app sends itself: a signed PostObject (or S3 POST) form for one object, which
a phone, a browser or a mini-program posts straight to the store, the file as the last
part. The store checks the form, so the secret never leaves ossync.

Each store spells its form in a leaf module (`oss/direct.py`, `s3/direct.py`) from the
same pure signing as the daemon's own uploads (`oss.signing`, `s3.signing`): the policy
pins the bucket, the exact key, the exact size, the content type, the success status
and every option; it expires after `lifetime` (cut to the keys' own expiry by the
caller). `ossync.stores` maps a config section to its issuer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from ossync.core.credentials import Credentials
from ossync.core.objectopts import ObjectOptions

SUCCESS_STATUS = 200  # what a form's POST answers (OSS with a callback: the callback's)


@dataclass(frozen=True)
class DirectForm:
    """Where to POST and the fields to send before the file, in order."""

    url: str
    fields: dict[str, str] = field(repr=False)  # the policy and its signature


@dataclass(frozen=True)
class FormRequest:
    """One object an app may write: exactly this key, size and type, with its options
    (and, on OSS, the callback to make once it landed)."""

    key: str
    size: int
    content_type: str
    options: ObjectOptions = field(default_factory=ObjectOptions)
    callback: str | None = None  # OSS's `callback` field (base64 JSON), pinned too


class FormIssuer(Protocol):
    """A store's forms for apps (`OssForms`, `S3Forms`)."""

    bucket: str
    store: str  # `oss` or `s3`
    url: str  # where every form is POSTed: its origin is what a page must reach

    def form(self, creds: Credentials, request: FormRequest, *, now: datetime,
             lifetime: timedelta) -> DirectForm: ...
