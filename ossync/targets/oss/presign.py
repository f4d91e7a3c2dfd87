"""Presigned GET/HEAD URLs for private buckets (V4 and V1), and the URLs apps are handed.

OSS buckets are private by default: the plain object URL the ledger records answers
403 there. A presigned URL carries its own time-limited signature in the query
string, so a browser can fetch it as is. `presign_v4` and `presign_v1` are pure
functions of (credentials, bucket, key, base URL, time, lifetime, process), checked
byte for byte against the official SDKs; `UrlSigner` binds them to keys, an endpoint
and a clock (`ossync.stores.url_signer` makes one from a config). Signed URLs are
minted on demand and never stored: they expire.

`process` adds OSS's `x-oss-process` parameter (`image/resize,w_300` and friends);
it is signed into the URL, so a thumbnail URL cannot be turned into another one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ossync.core.addressing import PROCESS, bucket_url, object_url, with_query
from ossync.core.credentials import Credentials, CredentialsUnavailable, signing_lifetime
from ossync.core.units import Lifetime, format_duration
from ossync.targets.oss.signing import (
    V4_ALGORITHM,
    canonical_uri,
    iso8601_basic,
    v1_signature,
    v4_canonical_query,
    v4_scope,
    v4_signature,
    v4_string_to_sign,
)

MAX_URL_LIFETIME = timedelta(days=7)  # x-oss-expires: 1 s to 604800 s
DEFAULT_URL_LIFETIME = timedelta(hours=1)


def lifetime_seconds(expires: Lifetime) -> int:
    """Whole seconds of a URL lifetime; ValueError unless 1 s ≤ lifetime ≤ 7 days."""
    seconds = expires.total_seconds() if isinstance(expires, timedelta) else float(expires)
    if not 1 <= seconds <= MAX_URL_LIFETIME.total_seconds():
        raise ValueError("a signed URL must live at least 1s and at most 7d "
                         f"(the longest OSS accepts), not {format_duration(seconds)}")
    return int(seconds)


def _join(base_url: str, key: str, params: list[tuple[str, str]]) -> str:
    return with_query(object_url(base_url, key), params)


def presign_v4(creds: Credentials, *, bucket: str, key: str, region: str, base_url: str,
               now: datetime, expires: Lifetime, process: str | None = None,
               method: str = "GET") -> str:
    """A V4 (`OSS4-HMAC-SHA256`) presigned URL under `base_url` (the bucket's URL).

    Valid from `now` (whole seconds) for `expires`. The query carries, in the
    official SDK's order: `x-oss-process` (if any), `x-oss-signature-version`,
    `x-oss-date`, `x-oss-expires`, `x-oss-credential`, `x-oss-security-token` (STS),
    `x-oss-signature`. The canonical URI is always `/bucket/key`, whatever the host.
    """
    stamp = now.astimezone(timezone.utc).replace(microsecond=0)
    timestamp = iso8601_basic(stamp)
    day = timestamp[:8]
    scope = v4_scope(day, region)
    params = [(PROCESS, process)] if process else []
    params += [("x-oss-signature-version", V4_ALGORITHM), ("x-oss-date", timestamp),
               ("x-oss-expires", str(lifetime_seconds(expires))),
               ("x-oss-credential", f"{creds.access_key_id}/{scope}")]
    if creds.security_token:
        params.append(("x-oss-security-token", creds.security_token))
    to_sign = v4_string_to_sign(timestamp, scope, method, canonical_uri(bucket, key),
                                v4_canonical_query(params))
    params.append(("x-oss-signature",
                   v4_signature(creds.access_key_secret, day, region, to_sign)))
    return _join(base_url, key, params)


def presign_v1(creds: Credentials, *, bucket: str, key: str, base_url: str, now: datetime,
               expires: Lifetime, process: str | None = None, method: str = "GET") -> str:
    """A V1 presigned URL: `OSSAccessKeyId`, `Expires` (Unix time), `Signature`.

    `x-oss-process` and `security-token` are sub-resources, signed in the canonical
    resource; the query order is oss2's `Bucket.sign_url`.
    """
    deadline = int(now.timestamp()) + lifetime_seconds(expires)
    signed = [(PROCESS, process)] if process else []
    if creds.security_token:
        signed.append(("security-token", creds.security_token))
    resource = f"/{bucket}/{key}"
    if signed:
        resource += "?" + "&".join(f"{k}={v}" for k, v in sorted(signed))
    to_sign = "\n".join([method, "", "", str(deadline), resource])
    params = [*signed, ("OSSAccessKeyId", creds.access_key_id), ("Expires", str(deadline)),
              ("Signature", v1_signature(creds.access_key_secret, to_sign))]
    return _join(base_url, key, params)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class UrlSigner:
    """Mints presigned URLs with one set of credentials, at the config's endpoint.

    Signed URLs go to the bucket URL of `endpoint` (virtual-hosted, path-style for an
    IP or `localhost`, or the custom domain itself when `cname`), never to
    `public_url`: a CDN in front of a private bucket authenticates in its own way.
    """

    credentials: Credentials = field(repr=False)
    endpoint: str
    region: str
    cname: bool = False
    signature_version: int = 4
    expires: float = DEFAULT_URL_LIFETIME.total_seconds()
    clock: Callable[[], datetime] = field(default=_utcnow, repr=False, compare=False)

    def lifetime(self, expires: Lifetime | None = None, now: datetime | None = None) -> float:
        """Seconds a URL signed at `now` lives: `expires` (default: the configured
        lifetime), cut to the STS token's remaining life, whole seconds."""
        wanted = self.expires if expires is None else expires
        seconds = wanted.total_seconds() if isinstance(wanted, timedelta) else float(wanted)
        moment = self.clock() if now is None else now
        left = int(signing_lifetime(self.credentials, moment,
                                    timedelta(seconds=seconds)).total_seconds())
        if left < 1 <= seconds:
            raise CredentialsUnavailable(f"the credentials of {self.credentials.access_key_id}"
                                         " expire within a second: no URL can be signed")
        return float(left)

    def sign(self, bucket: str, key: str, *, expires: Lifetime | None = None,
             process: str | None = None, method: str = "GET",
             now: datetime | None = None) -> str:
        """A URL for `key` valid from `now` (default: the clock) for `expires`
        (default: the configured lifetime)."""
        base = bucket_url(self.endpoint, bucket, cname=self.cname)
        moment = self.clock() if now is None else now
        lifetime = self.lifetime(expires, moment)  # never past the STS token's expiry
        if self.signature_version == 1:
            return presign_v1(self.credentials, bucket=bucket, key=key, base_url=base,
                              now=moment, expires=lifetime, process=process, method=method)
        return presign_v4(self.credentials, bucket=bucket, key=key, region=self.region,
                          base_url=base, now=moment, expires=lifetime, process=process,
                          method=method)
