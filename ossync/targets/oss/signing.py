"""Pure OSS signing: POST policies and header signatures, V4 and V1.

Nothing here reads a clock, a file or the network: every function takes the
time and the credentials it needs, so known-answer vectors and the official
SDKs can check it byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from urllib.parse import quote

from ossync.core.credentials import MAX_POLICY_LIFETIME, Credentials
from ossync.targets.post_policy import PostUpload, encode_policy, hmac_chain

V4_ALGORITHM = "OSS4-HMAC-SHA256"
V4_TERMINATOR = "aliyun_v4_request"
PRODUCT = "oss"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# Query parameters V1 signs as sub-resources (as alibabacloud_oss_v2's SignerV1); the
# rest (prefix, markers, encoding-type) are left out of the string to sign.
V1_SUB_RESOURCES = frozenset({
    "acl", "bucketInfo", "location", "stat", "delete", "append", "tagging", "objectMeta",
    "uploads", "uploadId", "partNumber", "security-token", "position",
    "response-content-type", "response-content-language", "response-expires",
    "response-cache-control", "response-content-disposition", "response-content-encoding",
    "restore", "callback", "callback-var", "versions", "versioning", "versionId",
    "sequential", "continuation-token", "regionList", "cloudboxes", "symlink",
    "resourceGroup",
})


# Fields `post_form_fields` writes itself: an option may not name them.
_RESERVED = frozenset({"key", "policy", "success_action_status", "content-type",
                       "x-oss-forbid-overwrite", "x-oss-signature-version", "x-oss-credential",
                       "x-oss-date", "x-oss-signature", "x-oss-security-token",
                       "ossaccesskeyid", "signature", "file"})


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("signing time must be timezone-aware")
    return now.astimezone(timezone.utc)


def iso8601_basic(now: datetime) -> str:
    """`20240713T133414Z`, the x-oss-date format."""
    return _utc(now).strftime("%Y%m%dT%H%M%SZ")


def v4_scope(day: str, region: str) -> str:
    return f"{day}/{region}/{PRODUCT}/{V4_TERMINATOR}"


def v4_signing_key(secret: str, day: str, region: str) -> bytes:
    """HMAC chain "aliyun_v4"+secret → day → region → "oss" → "aliyun_v4_request"."""
    return hmac_chain("aliyun_v4" + secret, (day, region, PRODUCT, V4_TERMINATOR))


def v4_signature(secret: str, day: str, region: str, string_to_sign: str) -> str:
    key = v4_signing_key(secret, day, region)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def v1_signature(secret: str, string_to_sign: str) -> str:
    digest = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def post_form_fields(
    creds: Credentials,
    upload: PostUpload,
    *,
    region: str,
    now: datetime,
    lifetime: timedelta,
    version: int = 4,
    success_action_status: int = 200,
    forbid_overwrite: bool = True,
) -> dict[str, str]:
    """Every form field of a PostObject request except `file`, in sending order.

    The policy pins the bucket, the exact key, the exact size and every other
    field we send, and expires after `lifetime` (at most 7 days), so a leaked
    form can write nothing but this one object.
    """
    if not timedelta(0) < lifetime <= MAX_POLICY_LIFETIME:
        raise ValueError("policy lifetime must be more than 0 and at most 7 days")
    if version not in (1, 4):
        raise ValueError(f"unknown signature version {version}")
    stamp = _utc(now)
    extra: dict[str, str] = {
        "success_action_status": str(success_action_status),
        "Content-Type": upload.content_type,
    }
    if forbid_overwrite:
        extra["x-oss-forbid-overwrite"] = "true"
    for name, value in upload.fields:
        if name.lower() in _RESERVED:
            raise ValueError(f"{name} is a field ossync sets itself")
        extra[name] = value
    auth: dict[str, str] = {}
    if version == 4:
        day = stamp.strftime("%Y%m%d")
        auth = {
            "x-oss-signature-version": V4_ALGORITHM,
            "x-oss-credential": f"{creds.access_key_id}/{v4_scope(day, region)}",
            "x-oss-date": iso8601_basic(stamp),
        }
    if creds.security_token:
        auth["x-oss-security-token"] = creds.security_token
    conditions: list[object] = [{"bucket": upload.bucket}]
    conditions += [{name: value} for name, value in auth.items()]
    conditions.append(["eq", "$key", upload.key])
    conditions += [["eq", f"${name}", value] for name, value in extra.items()]
    conditions.append(["content-length-range", upload.size, upload.size])
    expiration = (stamp + lifetime).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    policy_b64 = encode_policy({"expiration": expiration, "conditions": conditions})
    fields = {"key": upload.key, "policy": policy_b64, **auth}
    if version == 4:
        day = stamp.strftime("%Y%m%d")
        fields["x-oss-signature"] = v4_signature(
            creds.access_key_secret, day, region, policy_b64
        )
    else:
        fields["OSSAccessKeyId"] = creds.access_key_id
        fields["Signature"] = v1_signature(creds.access_key_secret, policy_b64)
    fields.update(extra)
    return fields


# --- header-signed requests (HEAD/GET/DELETE on private buckets) -------------


def canonical_uri(bucket: str, key: str) -> str:
    """`/bucket/key` percent-encoded with `/` kept, as V4 signs it."""
    return quote(f"/{bucket}/{key}" if bucket else "/", safe="/")


def v4_canonical_query(query: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """Unencoded name/value pairs → RFC 3986-encoded, sorted, `&`-joined (`name` alone if empty)."""
    pairs = query.items() if isinstance(query, Mapping) else query
    encoded = sorted((quote(k, safe=""), quote(v, safe="")) for k, v in pairs)
    return "&".join(f"{k}={v}" if v else k for k, v in encoded)


def v4_string_to_sign(timestamp: str, scope: str, method: str, uri: str, query: str,
                      headers: str = "") -> str:
    """The V4 string to sign over the canonical request (additional headers: none)."""
    canonical_request = "\n".join([method, uri, query, headers, "", UNSIGNED_PAYLOAD])
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    return "\n".join([V4_ALGORITHM, timestamp, scope, digest])


def v4_header_auth(
    creds: Credentials,
    *,
    method: str,
    bucket: str,
    key: str,
    region: str,
    now: datetime,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Headers to add to a request so OSS accepts it under V4 header auth.

    Signs `x-oss-*`, `content-type` and `content-md5` (the default signed set);
    the query values must be given unencoded.
    """
    stamp = _utc(now)
    day = stamp.strftime("%Y%m%d")
    out = {
        "x-oss-date": iso8601_basic(stamp),
        "x-oss-content-sha256": UNSIGNED_PAYLOAD,
    }
    if creds.security_token:
        out["x-oss-security-token"] = creds.security_token
    signed = {k.lower(): v.strip() for k, v in {**(headers or {}), **out}.items()}
    canon_headers = "".join(
        f"{k}:{v}\n"
        for k, v in sorted(signed.items())
        if k.startswith("x-oss-") or k in ("content-type", "content-md5")
    )
    scope = v4_scope(day, region)
    string_to_sign = v4_string_to_sign(out["x-oss-date"], scope, method,
                                       canonical_uri(bucket, key),
                                       v4_canonical_query(query or {}), canon_headers)
    signature = v4_signature(creds.access_key_secret, day, region, string_to_sign)
    out["Authorization"] = (
        f"{V4_ALGORITHM} Credential={creds.access_key_id}/{scope},Signature={signature}"
    )
    return out


def v1_header_auth(
    creds: Credentials,
    *,
    method: str,
    bucket: str,
    key: str,
    now: datetime,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Headers for V1 header auth: `Authorization: OSS AK:base64(HMAC-SHA1)`.

    Of the query (unencoded), the sub-resources (`uploads`, `uploadId`, `partNumber`, …)
    are signed as part of the resource, sorted, an empty value as the bare name."""
    lower = {k.lower(): v.strip() for k, v in (headers or {}).items()}
    out = {"Date": format_datetime(_utc(now), usegmt=True)}
    if creds.security_token:
        out["x-oss-security-token"] = creds.security_token
        lower["x-oss-security-token"] = creds.security_token
    oss_headers = "".join(
        f"{k}:{v}\n" for k, v in sorted(lower.items()) if k.startswith("x-oss-")
    )
    resource = f"/{bucket}/{key}" if bucket else "/"
    signed = sorted((k, v) for k, v in (query or {}).items() if k in V1_SUB_RESOURCES)
    if signed:
        resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in signed)
    string_to_sign = "\n".join(
        [method, lower.get("content-md5", ""), lower.get("content-type", ""), out["Date"],
         oss_headers + resource]
    )
    signature = v1_signature(creds.access_key_secret, string_to_sign)
    out["Authorization"] = f"OSS {creds.access_key_id}:{signature}"
    return out
