"""The multipart upload API, after the signature is verified: InitiateMultipartUpload,
UploadPart, CompleteMultipartUpload, AbortMultipartUpload, ListParts and
ListMultipartUploads, each in OSS's dialect and S3's (an `AWS4-HMAC-SHA256` request).

The checks follow OSS's documentation and order; where S3 differs (5 MiB rather than
100 KB minimum part size, If-None-Match rather than x-oss-forbid-overwrite, no
x-oss-complete-all) the request's dialect decides. A query parameter an operation does
not know is refused with 501, as everything local-oss does not implement.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from typing import TYPE_CHECKING
from urllib.parse import quote

from ossync.localoss.multipart import Source
from ossync.localoss.objects import check_md5, check_sha256, copy_body, encoder
from ossync.localoss.options import from_headers
from ossync.localoss.responses import OSSError, Reply, invalid_argument
from ossync.localoss.store import Bucket, already_exists, validate_key
from ossync.localoss.upload_xml import (
    Page,
    complete_result,
    initiate_result,
    parse_complete,
    parts_result,
    uploads_result,
)
from ossync.localoss.uploads import PartMeta, Upload

if TYPE_CHECKING:
    pass

CHUNK = 1 << 20  # 1 MiB reads: fewer calls on multi-gigabyte parts, holes in whole MiBs
MAX_PART_SIZE = 5 * 1024**3
MAX_PART_NUMBER = 10000
MAX_LISTED = 1000
MAX_COMPLETE_BODY = 4 * 1024 * 1024  # 10000 parts with S3 checksums fit in about 2 MB
MIN_PART_OSS = 100 * 1024  # OSS: every part but the last >= 100 KB (doc 0042-00000213)
MIN_PART_S3 = 5 * 1024 * 1024
DEFAULT_TYPE = "application/octet-stream"
_DIGITS = re.compile(r"^[0-9]{1,9}$")


@dataclass(frozen=True)
class Call:
    """One verified request as the router saw it."""

    bucket: Bucket
    key: str
    query: Mapping[str, str]  # without the presigning parameters
    headers: Mapping[str, str]  # lower-case names
    body: Source
    length: int
    host: str
    kms: bool = True  # the endpoint takes KMS encryption

    @property
    def s3(self) -> bool:
        return self.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 ")

    @property
    def upload_id(self) -> str:
        return self.query.get("uploadId", "")


def route(method: str, call: Call) -> Reply | None:
    """The answer to a multipart request, or None when the request is not one."""
    query = call.query
    name: str | None = None
    if not call.key:
        name = "list_uploads" if method == "GET" and "uploads" in query else None
    elif method == "POST" and "uploads" in query:
        name = "initiate"
    elif "uploadId" in query or (method == "PUT" and "partNumber" in query):
        name = {"PUT": "upload_part", "POST": "complete", "DELETE": "abort",
                "GET": "list_parts"}.get(method)
    if name is None:
        return None
    operation, params = OPERATIONS[name]
    unknown = sorted(set(query) - params)
    if unknown:
        raise OSSError(501, "NotImplemented",
                       f"local-oss does not implement the {unknown[0]} parameter here.")
    return operation(call)


# --- InitiateMultipartUpload, UploadPart, AbortMultipartUpload ---------------------------


def initiate(call: Call) -> Reply:
    """Start an upload; it keeps Content-Type and user metadata for the object."""
    validate_key(call.key)
    encoding, enc = encoder(call.query)
    if not call.s3 and _forbid_overwrite(call.headers) and call.bucket.head(call.key):
        raise already_exists()
    extras, user_meta = from_headers(call.headers, s3=call.s3, kms=call.kms)
    upload = call.bucket.uploads.create(call.key, call.headers.get("content-type") or
                                        DEFAULT_TYPE, user_meta, extras.as_json())
    return initiate_result(call.bucket.name, call.key, upload.upload_id, encoding, enc,
                           s3=call.s3)


def upload_part(call: Call) -> Reply:
    """Store one part (replacing one with the same number), checked like PutObject."""
    validate_key(call.key)
    number = _part_number(call.query.get("partNumber"))
    if "content-length" not in call.headers:
        raise OSSError(411, "MissingContentLength",
                       "You must provide the Content-Length HTTP header.")
    if call.length > MAX_PART_SIZE:
        raise OSSError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum "
                       "allowed size.", MaxSizeAllowed=str(MAX_PART_SIZE))
    call.bucket.uploads.check(call.upload_id, call.key)  # before reading gigabytes
    sent_sha256 = call.headers.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
    sha256 = None if sent_sha256 == "UNSIGNED-PAYLOAD" else hashlib.sha256()
    spool = call.bucket.spool()
    try:
        copy_body(call.body, call.length, spool, sha256, chunk=CHUNK)
        check_md5(call.headers.get("content-md5"), spool.md5.digest())
        if sha256 is not None:
            check_sha256(sent_sha256, sha256.hexdigest())
        part = call.bucket.uploads.add_part(call.upload_id, call.key, number, spool)
    except BaseException:
        spool.discard()
        raise
    return Reply(200, {"ETag": part.etag, "x-oss-hash-crc64ecma": str(part.crc64),
                       "Content-MD5": base64.b64encode(spool.md5.digest()).decode()})


def abort(call: Call) -> Reply:
    validate_key(call.key)
    call.bucket.uploads.abort(call.upload_id, call.key)
    return Reply(204)


def _part_number(raw: str | None) -> int:
    if raw is None:  # OSS doc 0017-00000219
        raise invalid_argument("Unexpected query string parameter", "ResourceType",
                               "partNumber")
    if not _DIGITS.match(raw) or not 1 <= int(raw) <= MAX_PART_NUMBER:  # 0017-00000220
        raise invalid_argument("Part number must be an integer between 1 and 10000, "
                               "inclusive.", "PartNumber", raw)
    return int(raw)


# --- CompleteMultipartUpload ---------------------------------------------------------------


def complete(call: Call) -> Reply:
    """Join the listed parts (or, with x-oss-complete-all: yes, every part) into the object."""
    validate_key(call.key)
    encoding, enc = encoder(call.query)
    forbid = not call.s3 and _forbid_overwrite(call.headers)
    if_none_match = call.headers.get("if-none-match") if call.s3 else None
    if if_none_match not in (None, "*"):
        raise OSSError(501, "NotImplemented", "local-oss supports only If-None-Match: *.")
    body = _read_body(call)
    listed: list[tuple[int, str]] | None = None
    complete_all = None if call.s3 else call.headers.get("x-oss-complete-all")
    if complete_all is None:
        listed = parse_complete(body)
    elif complete_all != "yes":
        raise invalid_argument("x-oss-complete-all must be yes.", "x-oss-complete-all",
                               complete_all)
    elif body:  # OSS doc 0042-00000216
        raise invalid_argument("With x-oss-complete-all: yes the request body must be empty.")
    minimum = MIN_PART_S3 if call.s3 else MIN_PART_OSS
    try:
        meta = call.bucket.complete(call.upload_id, call.key, partial(_choose, listed, minimum),
                                    forbid_overwrite=forbid or if_none_match == "*")
    except OSSError as err:
        if err.code == "FileAlreadyExists" and if_none_match == "*":
            raise OSSError(412, "PreconditionFailed", "At least one of the pre-conditions you "
                           "specified did not hold", Condition="If-None-Match") from None
        raise
    location = f"http://{call.host}/{call.bucket.name}/{quote(call.key)}"
    reply = complete_result(location, call.bucket.name, call.key, meta.etag, encoding, enc,
                            s3=call.s3)
    reply.headers.update({"ETag": meta.etag, "x-oss-hash-crc64ecma": str(meta.crc64)})
    return reply


def _choose(listed: list[tuple[int, str]] | None, minimum: int,
            upload: Upload) -> list[PartMeta]:
    """The parts that become the object, checked in OSS's order: ascending numbers, each
    part uploaded with that ETag, every part but the last at least `minimum` bytes."""
    if listed is None:
        parts = [upload.parts[n] for n in sorted(upload.parts)]
        if not parts:
            raise invalid_argument("The upload has no parts to complete.")
    else:
        numbers = [n for n, _ in listed]
        if any(b <= a for a, b in pairwise(numbers)):
            raise OSSError(400, "InvalidPartOrder", "The list of parts was not in ascending "
                           "order. The parts list must be specified in order by part number.")
        parts = [_listed_part(upload, n, etag) for n, etag in listed]
    for part in parts[:-1]:
        if part.size < minimum:
            raise OSSError(400, "EntityTooSmall", "Your proposed upload is smaller than the "
                           "minimum allowed size.", ProposedSize=str(part.size),
                           MinSizeAllowed=str(minimum), PartNumber=str(part.number))
    return parts


def _listed_part(upload: Upload, number: int, etag: str) -> PartMeta:
    part = upload.parts.get(number)
    if part is None or _bare(etag) != _bare(part.etag):
        raise OSSError(400, "InvalidPart", "One or more of the specified parts could not be "
                       "found or the specified entity tag might not have matched the part's "
                       "entity tag.", PartNumber=str(number), ETag=etag)
    return part


def _bare(etag: str) -> str:
    """ETags compare without quotes and case."""
    return etag.strip().strip('"').upper()


def _read_body(call: Call) -> bytes:
    if call.length > MAX_COMPLETE_BODY:
        raise invalid_argument("The CompleteMultipartUpload body is larger than 4 MB.")
    chunks, left = [], call.length
    while left > 0:
        data = call.body.read(left)
        if not data:
            raise ConnectionError("the client sent less than Content-Length")
        chunks.append(data)
        left -= len(data)
    body = b"".join(chunks)
    check_md5(call.headers.get("content-md5"), hashlib.md5(body, usedforsecurity=False).digest())
    sent_sha256 = call.headers.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
    if sent_sha256 != "UNSIGNED-PAYLOAD":
        check_sha256(sent_sha256, hashlib.sha256(body).hexdigest())
    return body


# --- ListParts, ListMultipartUploads ---------------------------------------------------------


def list_parts(call: Call) -> Reply:
    validate_key(call.key)
    encoding, enc = encoder(call.query)
    marker = call.query.get("part-number-marker", "0") or "0"
    if not _DIGITS.match(marker):
        raise invalid_argument("part-number-marker must be a whole number.",
                               "part-number-marker", marker)
    limit = _limit(call, "max-parts")
    upload = call.bucket.uploads.get(call.upload_id, call.key)
    return parts_result(call.bucket.name, upload, Page(str(int(marker)), limit, encoding, enc),
                        s3=call.s3)


def list_uploads(call: Call) -> Reply:
    """The uploads in progress by key, then start time, after key-marker/upload-id-marker."""
    encoding, enc = encoder(call.query)
    if call.query.get("delimiter"):  # oss2 always sends an empty one
        raise OSSError(501, "NotImplemented", "local-oss does not implement delimiter for "
                       "ListMultipartUploads.")
    prefix = call.query.get("prefix", "")
    key_marker = call.query.get("key-marker", "")
    id_marker = call.query.get("upload-id-marker", "") if key_marker else ""
    limit = _limit(call, "max-uploads")
    uploads = [u for u in call.bucket.uploads.snapshot() if u.key.startswith(prefix) and (
        u.key > key_marker or (u.key == key_marker and bool(id_marker) and
                               u.upload_id > id_marker))]
    return uploads_result(call.bucket.name, uploads, prefix, id_marker,
                          Page(key_marker, limit, encoding, enc), s3=call.s3)


def _limit(call: Call, name: str) -> int:
    """max-parts / max-uploads: 1 to 1000 (S3 takes more and lists 1000)."""
    raw = call.query.get(name, str(MAX_LISTED))
    if not _DIGITS.match(raw) or not 1 <= int(raw) <= (10**9 if call.s3 else MAX_LISTED):
        raise invalid_argument(f"{name} must be between 1 and {MAX_LISTED}.", name, raw)
    return min(int(raw), MAX_LISTED)


# --- shared ------------------------------------------------------------------------------------


def _forbid_overwrite(headers: Mapping[str, str]) -> bool:
    value = headers.get("x-oss-forbid-overwrite", "false").lower()
    if value not in ("true", "false"):
        raise invalid_argument("x-oss-forbid-overwrite must be true or false.",
                               "x-oss-forbid-overwrite", value)
    return value == "true"


OPERATIONS: dict[str, tuple[Callable[[Call], Reply], frozenset[str]]] = {
    "initiate": (initiate, frozenset({"uploads", "encoding-type"})),
    "upload_part": (upload_part, frozenset({"uploadId", "partNumber"})),
    "complete": (complete, frozenset({"uploadId", "encoding-type"})),
    "abort": (abort, frozenset({"uploadId"})),
    "list_parts": (list_parts, frozenset({"uploadId", "max-parts", "part-number-marker",
                                          "encoding-type"})),
    "list_uploads": (list_uploads, frozenset({"uploads", "prefix", "key-marker",
                                              "upload-id-marker", "max-uploads",
                                              "encoding-type", "delimiter"})),
}
