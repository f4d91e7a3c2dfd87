"""OSS error responses → StoreError with a `retryable` flag and a one-line hint."""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET

import requests

from ossync.core.errors import StoreError

RETRYABLE_CODES = frozenset({
    "RequestTimeTooSkewed", "InternalError", "ServiceUnavailable", "SlowDown",
    "RequestTimeout", "TooManyRequests", "CrcMismatch", "NoCrcReturned",
    "SecurityTokenExpired",  # the keys' fault, not the file's: it waits for fresh ones
})
HINTS = {
    "SignatureDoesNotMatch": "check OSS_ACCESS_KEY_SECRET, oss.region and "
                             "oss.signature_version",
    "InvalidAccessKeyId": "check OSS_ACCESS_KEY_ID; STS keys also need OSS_SESSION_TOKEN",
    "AccessDenied": "check that the key may write to this bucket (oss:PutObject); "
                    "if the message names the policy, report it as an ossync bug",
    "InvalidPolicyDocument": "ossync built a policy OSS refused; please report this bug",
    "EntityTooLarge": "the file is larger than the policy or OSS allows (max_file_size)",
    "EntityTooSmall": "the file is smaller than the policy allows",
    "NoSuchBucket": "check oss.bucket, and that oss.endpoint is in the bucket's region",
    "PublicEndpointForbidden": "use a custom domain bound to the bucket: set oss.endpoint "
                               "to https://your.domain and oss.cname: true",
    "SecurityTokenExpired": "the STS token expired and no fresh one came: use a source that "
                            "refreshes it (oss.credential_process, oss.credentials_file, "
                            "oss.ecs_ram_role; docs/oss.md: Credentials)",
    "InvalidSecurityToken": "the STS token is wrong: check OSS_SESSION_TOKEN",
    "RequestTimeTooSkewed": "this machine's clock is off: enable NTP "
                            "(timedatectl set-ntp true)",
    "FileAlreadyExists": "a different object already has this key",
    # Refusals of an object option: each names the config key to change.
    "KmsServiceNotEnabled": "server_side_encryption: KMS is not enabled for this account "
                            "or region; enable KMS, or set server_side_encryption: AES256",
    "InvalidEncryptionAlgorithmError": "server_side_encryption: the store does not take this "
                                       "algorithm (OSS: AES256, KMS, SM4; S3: AES256, KMS)",
    "InvalidStorageClass": "storage_class: the bucket does not take this storage class",
    "InvalidTag": "tags: a tag was refused (at most 10; keys of 1 to 128 characters, values "
                  "of at most 256)",
    "MetadataTooLarge": "metadata: user metadata and ossync's record are over the store's "
                        "limit (OSS 8 KB, S3 2 KB); shorten metadata: or set object_record: "
                        "relative",
}
# An InvalidArgument naming one of these fields is about that option.
OPTION_FIELDS = {"x-oss-object-acl": "acl", "acl": "acl", "x-amz-acl": "acl",
                 "x-oss-storage-class": "storage_class", "x-amz-storage-class": "storage_class",
                 "x-oss-server-side-encryption-key-id": "kms_key_id",
                 "x-amz-server-side-encryption-aws-kms-key-id": "kms_key_id",
                 "x-oss-tagging": "tags", "x-amz-tagging": "tags"}


def option_hint(info: dict[str, str]) -> str | None:
    """`acl: the store refused …` when an InvalidArgument names an option's field."""
    option = OPTION_FIELDS.get(info.get("ArgumentName", "").lower())
    if option is None:
        return None
    return (f"{option}: the store refused {info.get('ArgumentValue') or 'the value'!r} "
            "(check-config lists what it takes)")


# What a refused multipart request needs: parts of big files use rights of their own.
MULTIPART_RIGHTS = {
    "oss": {"initiate upload": "oss:PutObject", "upload part": "oss:PutObject",
            "complete upload": "oss:PutObject", "list parts": "oss:ListParts",
            "abort upload": "oss:AbortMultipartUpload",
            "list uploads": "oss:ListMultipartUploads"},
    "s3": {"initiate upload": "s3:PutObject", "upload part": "s3:PutObject",
           "complete upload": "s3:PutObject", "list parts": "s3:ListMultipartUploadParts",
           "abort upload": "s3:AbortMultipartUpload",
           "list uploads": "s3:ListBucketMultipartUploads"},
}


def rights_hint(store: str, operation: str) -> str | None:
    """`files over multipart_threshold go in parts: … oss:ListParts …` for a refused
    multipart request, naming every right big files need."""
    rights = MULTIPART_RIGHTS[store]
    if operation not in rights:
        return None
    every = ", ".join(sorted(set(rights.values())))
    return (f"files over multipart_threshold go in parts: the key needs {rights[operation]} "
            f"for this (big files need {every} on the bucket)")


def parse_error_xml(body: bytes) -> dict[str, str]:
    """The text of each child of `<Error>`; empty when the body is not OSS XML."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return {}
    if root.tag != "Error":
        return {}
    return {child.tag: (child.text or "").strip() for child in root}


def error_body(resp: requests.Response) -> bytes:
    """The `<Error>` document: the body, or for HEAD (no body) OSS's `x-oss-err` header."""
    if resp.content:
        return resp.content[:65536]
    try:
        return base64.b64decode(resp.headers.get("x-oss-err", ""), validate=True)
    except (binascii.Error, ValueError):
        return b""


def error_from_response(operation: str, key: str, resp: requests.Response) -> StoreError:
    body = error_body(resp)
    info = parse_error_xml(body) if body else {}
    code = info.get("Code") or f"HTTP{resp.status_code}"
    message = info.get("Message") or resp.reason or "no message"
    retryable = resp.status_code >= 500 or resp.status_code in (408, 429) or (
        code in RETRYABLE_CODES
    )
    hint = HINTS.get(code, "")
    if code == "AccessDenied" and "SignatureDoesNotMatch" in message:
        hint = HINTS["SignatureDoesNotMatch"]  # how OSS reports a bad POST signature
    elif code == "AccessDenied":
        hint = rights_hint("oss", operation) or hint
    elif code == "InvalidArgument":
        hint = option_hint(info) or hint
    return StoreError(
        operation=operation, key=key, code=code, message=" ".join(message.split()),
        http_status=resp.status_code,
        request_id=info.get("RequestId") or resp.headers.get("x-oss-request-id"),
        retryable=retryable, hint=hint,
    )


def error_from_exception(operation: str, key: str, exc: requests.RequestException) -> StoreError:
    """Network trouble (refused, reset, timeout) is always worth another try."""
    kind = type(exc).__name__
    reason = str(exc.args[0]) if exc.args else kind
    if "Max retries exceeded" in reason and "(Caused by" in reason:
        reason = reason.split("(Caused by", 1)[1].rstrip(")")
    return StoreError(operation=operation, key=key, code=kind, message=reason[:300],
                      retryable=True, hint="network trouble; will retry")
