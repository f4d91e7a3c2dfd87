"""S3 error responses → StoreError with a `retryable` flag and a one-line hint.

The `<Error>` body has the same shape as OSS's; HEAD answers carry no body, so
their code comes from the status. Network trouble maps as for OSS.
"""

from __future__ import annotations

import requests

from ossync.core.errors import StoreError
from ossync.targets.oss.errors import HINTS as OSS_HINTS
from ossync.targets.oss.errors import (
    error_from_exception,
    option_hint,
    parse_error_xml,
    rights_hint,
)

__all__ = ["error_from_exception", "error_from_response"]

RETRYABLE_CODES = frozenset({
    "RequestTimeTooSkewed", "InternalError", "ServiceUnavailable", "SlowDown",
    "RequestTimeout", "TooManyRequests", "ConditionalRequestConflict", "BadDigest",
    "XAmzContentSHA256Mismatch", "OperationAborted",
    "ExpiredToken",  # the keys' fault, not the file's: it waits for fresh ones
})
STATUS_CODES = {301: "PermanentRedirect", 307: "TemporaryRedirect", 400: "BadRequest",
                403: "AccessDenied", 404: "NoSuchKey", 405: "MethodNotAllowed",
                412: "PreconditionFailed", 501: "NotImplemented"}
HINTS = {
    "SignatureDoesNotMatch": "check AWS_SECRET_ACCESS_KEY (or s3.secret_access_key) and "
                             "s3.region",
    "InvalidAccessKeyId": "check AWS_ACCESS_KEY_ID; temporary keys also need AWS_SESSION_TOKEN",
    "AccessDenied": "check that the key may s3:PutObject, s3:GetObject and s3:ListBucket on "
                    "this bucket (without ListBucket a HEAD of a missing key answers 403)",
    "AuthorizationHeaderMalformed": "check s3.region: it must be the bucket's region",
    "PermanentRedirect": "the bucket lives at another endpoint or region: check s3.endpoint "
                         "and s3.region",
    "TemporaryRedirect": "the bucket lives at another endpoint or region: check s3.endpoint "
                         "and s3.region",
    "NoSuchBucket": "check s3.bucket, s3.endpoint and s3.addressing",
    "InvalidPolicyDocument": "ossync built a POST policy the store refused; if the store "
                             "does not take POST policies (Cloudflare R2, Tencent COS), "
                             "set s3.method: put",
    "EntityTooLarge": "the file is larger than the policy or the store allows (max_file_size)",
    "EntityTooSmall": "the file is smaller than the policy allows",
    "ExpiredToken": "the session token expired and no fresh one came: use a source that "
                    "refreshes it (s3.credential_process, s3.credentials_file, "
                    "s3.instance_role; docs/oss.md: Credentials)",
    "InvalidToken": "the session token is wrong: check AWS_SESSION_TOKEN",
    "RequestTimeTooSkewed": "this machine's clock is off: enable NTP "
                            "(timedatectl set-ntp true)",
    "MethodNotAllowed": "the store refused this kind of request: stores without POST "
                        "uploads (Cloudflare R2, Tencent COS) need s3.method: put",
    "NotImplemented": "the store lacks a feature ossync used: without POST uploads set "
                      "s3.method: put; without If-None-Match on PUT set "
                      "s3.if_none_match: false",
    "PreconditionFailed": "a different object already has this key",
    "BadDigest": "the bytes arrived damaged (Content-MD5 did not match); will retry",
    "XAmzContentSHA256Mismatch": "the bytes arrived damaged (SHA-256 did not match); "
                                 "will retry",
    **{code: OSS_HINTS[code] for code in ("KmsServiceNotEnabled", "InvalidEncryptionAlgorithmError",
                                          "InvalidStorageClass", "InvalidTag",
                                          "MetadataTooLarge")},
    "KMS.DisabledException": "server_side_encryption: the KMS key is disabled; enable it, "
                             "or set server_side_encryption: AES256",
    "KMS.NotFoundException": "kms_key_id: no such KMS key in this region",
    "AccessControlListNotSupported": "acl: the bucket has ACLs turned off (object ownership: "
                                     "bucket owner enforced); leave acl: out",
}


def error_from_response(operation: str, key: str, resp: requests.Response) -> StoreError:
    info = parse_error_xml(resp.content[:65536]) if resp.content else {}
    code = info.get("Code") or STATUS_CODES.get(resp.status_code, f"HTTP{resp.status_code}")
    message = info.get("Message") or resp.reason or "no message"
    retryable = (resp.status_code >= 500 and code != "NotImplemented") or (
        resp.status_code in (408, 429) or code in RETRYABLE_CODES
    )
    hint = HINTS.get(code, "")
    if operation == "head" and resp.status_code == 403 and not info:
        hint = ("check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) and s3.region, "
                "and that the key may s3:GetObject and s3:ListBucket (without ListBucket a "
                "HEAD of a missing key answers 403)")
    if code == "AccessDenied":
        hint = rights_hint("s3", operation) or hint
    elif code == "InvalidArgument":
        hint = option_hint(info) or hint
    region = resp.headers.get("x-amz-bucket-region") or info.get("Region")
    if region and resp.status_code in (301, 307, 400):
        hint = f"the bucket is in region {region}: set s3.region (and s3.endpoint) to match"
    return StoreError(
        operation=operation, key=key, code=code, message=" ".join(message.split()),
        http_status=resp.status_code,
        request_id=info.get("RequestId") or resp.headers.get("x-amz-request-id"),
        retryable=retryable, hint=hint,
    )
