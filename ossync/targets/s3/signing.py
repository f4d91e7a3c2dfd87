"""Pure AWS Signature Version 4 for S3: POST policies and header-signed requests.

Like `ossync.targets.oss.signing` for OSS, nothing here reads a clock, a file or the
network: each function takes the time, the credentials and the payload hash it
needs, so AWS's published example and botocore can check it byte for byte.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, unquote, urlsplit

from ossync.core.credentials import MAX_POLICY_LIFETIME, Credentials
from ossync.targets.post_policy import PostUpload, encode_policy, hmac_chain

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "s3"
TERMINATOR = "aws4_request"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
EXPIRATION_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # as boto3's generate_presigned_post writes it


_RESERVED = frozenset({"key", "policy", "content-type", "success_action_status", "bucket",
                       "x-amz-algorithm", "x-amz-credential", "x-amz-date",
                       "x-amz-security-token", "x-amz-signature", "file"})


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("signing time must be timezone-aware")
    return now.astimezone(timezone.utc).replace(microsecond=0)


def amz_date(now: datetime) -> str:
    """`20151229T000000Z`, the x-amz-date format."""
    return _utc(now).strftime("%Y%m%dT%H%M%SZ")


def scope(day: str, region: str) -> str:
    return f"{day}/{region}/{SERVICE}/{TERMINATOR}"


def signing_key(secret: str, day: str, region: str) -> bytes:
    """HMAC chain "AWS4"+secret → day → region → "s3" → "aws4_request"."""
    return hmac_chain("AWS4" + secret, (day, region, SERVICE, TERMINATOR))


def signature(secret: str, day: str, region: str, string_to_sign: str) -> str:
    key = signing_key(secret, day, region)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def post_form_fields(creds: Credentials, upload: PostUpload, *, region: str, now: datetime,
                     lifetime: timedelta, success_action_status: int = 204) -> dict[str, str]:
    """Every field of an S3 POST form except `file`, in sending order.

    The policy expires after `lifetime`, pins the bucket, the exact key and the
    exact size, and has a condition for every other field sent (AWS and Ceph
    refuse a form field the policy does not name). Conditions come in boto3's
    order: ours, then bucket, key, and the signature fields.
    """
    if not timedelta(0) < lifetime <= MAX_POLICY_LIFETIME:
        raise ValueError("policy lifetime must be more than 0 and at most 7 days")
    stamp = _utc(now)
    date = amz_date(stamp)
    extra = {"Content-Type": upload.content_type,
             "success_action_status": str(success_action_status)}
    for name, value in upload.fields:
        if name.lower() in _RESERVED:
            raise ValueError(f"{name} is a field ossync sets itself")
        extra[name] = value
    auth = {"x-amz-algorithm": ALGORITHM,
            "x-amz-credential": f"{creds.access_key_id}/{scope(date[:8], region)}",
            "x-amz-date": date}
    if creds.security_token:
        auth["x-amz-security-token"] = creds.security_token
    conditions: list[object] = [["content-length-range", upload.size, upload.size]]
    conditions += [{name: value} for name, value in extra.items()]
    conditions += [{"bucket": upload.bucket}, {"key": upload.key}]
    conditions += [{name: value} for name, value in auth.items()]
    # From the unrounded time: a lifetime cut to an STS token's end ends at that second.
    expiration = (now.astimezone(timezone.utc) + lifetime).strftime(EXPIRATION_FORMAT)
    policy = encode_policy({"expiration": expiration, "conditions": conditions})
    return {"key": upload.key, **extra, **auth, "policy": policy,
            "x-amz-signature": signature(creds.access_key_secret, date[:8], region, policy)}


def _host(url: str) -> str:
    """The Host header a client sends for `url` (default ports left out), as botocore."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def canonical_query(query: str) -> str:
    """A URL's query as SigV4 signs it: each name and value decoded, then encoded again
    (RFC 3986 unreserved kept), sorted, an empty value as `name=`."""
    pairs = []
    for item in query.split("&"):
        if item:
            name, _, value = item.partition("=")
            pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_request(method: str, url: str, headers: Mapping[str, str],
                      payload_sha256: str) -> tuple[str, str]:
    """The SigV4 canonical request of an S3 request, and its signed-header list.

    The URI is the path as sent (S3 keys are encoded once, never normalised); the query
    as `canonical_query` gives it; header values are trimmed with inner runs of spaces
    folded, names lower-cased and sorted.
    """
    parts = urlsplit(url)
    signed = {k.lower(): " ".join(v.split()) for k, v in headers.items()}
    signed["host"] = _host(url)
    names = sorted(signed)
    lines = "".join(f"{name}:{signed[name]}\n" for name in names)
    signed_headers = ";".join(names)
    request = "\n".join([method, parts.path or "/", canonical_query(parts.query), lines,
                         signed_headers, payload_sha256])
    return request, signed_headers


def header_auth(creds: Credentials, *, method: str, url: str, region: str, now: datetime,
                headers: Mapping[str, str] | None = None,
                payload_sha256: str = EMPTY_SHA256) -> dict[str, str]:
    """Headers to add so S3 accepts the request: x-amz-date, x-amz-content-sha256, the
    STS token if any, and `Authorization`. Every header in `headers` is signed too."""
    date = amz_date(now)
    out = {"x-amz-date": date, "x-amz-content-sha256": payload_sha256}
    if creds.security_token:
        out["x-amz-security-token"] = creds.security_token
    request, signed_headers = canonical_request(method, url, {**(headers or {}), **out},
                                                payload_sha256)
    credential_scope = scope(date[:8], region)
    string_to_sign = "\n".join([ALGORITHM, date, credential_scope,
                                hashlib.sha256(request.encode()).hexdigest()])
    sig = signature(creds.access_key_secret, date[:8], region, string_to_sign)
    out["Authorization"] = (f"{ALGORITHM} Credential={creds.access_key_id}/{credential_scope}, "
                            f"SignedHeaders={signed_headers}, Signature={sig}")
    return out
