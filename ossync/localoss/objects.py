"""The header-signed object operations: GetObject, HeadObject, PutObject, DeleteObject,
ListObjects (V1), with the headers and XML shapes the official SDK parses.

An object a browser would render as a page or run (HTML, SVG, XML, JavaScript — by its
stored type, or by its first bytes whatever the type says) is served as a download
(`Content-Disposition: attachment`), and nothing is sniffed (`nosniff`): whoever may
upload must not get a page of their own on the endpoint's origin.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from collections.abc import Callable, Mapping
from email.utils import formatdate
from typing import TYPE_CHECKING
from urllib.parse import quote

from ossync.localoss.multipart import Source
from ossync.localoss.options import answer, from_headers
from ossync.localoss.responses import (
    OSSError,
    Reply,
    document,
    element,
    invalid_argument,
    xml_time,
)
from ossync.localoss.store import Bucket, ObjectMeta, Spool, validate_key

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

CHUNK = 64 * 1024
UNSUPPORTED_PUT_HEADERS = ("x-oss-copy-source", "x-amz-copy-source")
# Accepted on GetObject/HeadObject and ignored: image processing is OSS's server-side
# feature, so local-oss serves the original bytes (the parameter is still signed).
IGNORED_READ_PARAMS = ("x-oss-process",)
ACTIVE_TYPES = ("html", "svg", "xml", "javascript", "ecmascript")  # in a Content-Type
ACTIVE_STARTS = (b"<!doctype", b"<html", b"<head", b"<body", b"<svg", b"<?xml", b"<script",
                 b"<iframe", b"<!--")
SNIFFED = 512  # bytes looked at
Encoder = Callable[[str], str]


def _plain(text: str) -> str:
    return text


def _url(text: str) -> str:
    return quote(text, safe="/")


def encoder(query: Mapping[str, str]) -> tuple[str, Encoder]:
    """`encoding-type` (only `url` exists) and how keys are written under it."""
    encoding = query.get("encoding-type", "")
    if encoding not in ("", "url"):
        raise invalid_argument("encoding-type must be url.", "encoding-type", encoding)
    return encoding, _url if encoding else _plain


def no_such_key() -> OSSError:
    return OSSError(404, "NoSuchKey", "The specified key does not exist.")


def object_headers(meta: ObjectMeta, *, s3: bool = False) -> dict[str, str]:
    return {
        "Content-Type": meta.content_type,
        "ETag": meta.etag,
        "x-oss-hash-crc64ecma": str(meta.crc64),
        "Last-Modified": formatdate(meta.mtime, usegmt=True),
        "x-oss-object-type": meta.object_type,
        **answer(meta.options, meta.user_meta, s3=s3),
    }


def renders_as_page(content_type: str, start: bytes) -> bool:
    """Would a browser show this as a page, or run it, rather than as an image?"""
    kind = content_type.split(";", 1)[0].strip().lower()
    if any(word in kind for word in ACTIVE_TYPES):
        return True
    return start.lstrip(b"\xef\xbb\xbf \t\r\n\x0c").lower().startswith(ACTIVE_STARTS)


def get_object(bucket: Bucket, key: str, *, head: bool, s3: bool = False) -> Reply:
    validate_key(key)
    found = bucket.open(key)
    if found is None:
        raise no_such_key()
    meta, data = found
    headers = {**object_headers(meta, s3=s3), "X-Content-Type-Options": "nosniff"}
    start = data.peek(SNIFFED)[:SNIFFED] if isinstance(data, io.BufferedReader) else b""
    if renders_as_page(meta.content_type, start):
        headers["Content-Disposition"] = "attachment"
    if head:
        data.close()
        return Reply(200, headers, length=meta.size)
    return Reply(200, headers, stream=data, length=meta.size)


def delete_object(bucket: Bucket, key: str) -> Reply:
    validate_key(key)
    bucket.delete(key)
    return Reply(204)


def put_object(bucket: Bucket, key: str, headers: Mapping[str, str], stream: Source,
               length: int, *, s3: bool = False, kms: bool = True) -> Reply:
    """Store the body with its options (`ossync.localoss.options`); honour Content-MD5,
    Content-Type and x-oss-forbid-overwrite, and S3's If-None-Match: * (412 if the key
    exists) and x-amz-content-sha256."""
    validate_key(key)
    for name in UNSUPPORTED_PUT_HEADERS:
        if name in headers:
            raise OSSError(501, "NotImplemented", f"local-oss does not support {name}.")
    forbid = headers.get("x-oss-forbid-overwrite", "false").lower()
    if forbid not in ("true", "false"):
        raise invalid_argument("x-oss-forbid-overwrite must be true or false.",
                               "x-oss-forbid-overwrite", forbid)
    if_none_match = headers.get("if-none-match")
    if if_none_match not in (None, "*"):
        raise OSSError(501, "NotImplemented", "local-oss supports only If-None-Match: *.")
    extras, user_meta = from_headers(headers, s3=s3, kms=kms)
    spool = bucket.spool()
    sha256 = hashlib.sha256()
    try:
        copy_body(stream, length, spool, sha256)
        check_md5(headers.get("content-md5"), spool.md5.digest())
        check_sha256(headers.get("x-amz-content-sha256"), sha256.hexdigest())
        meta = bucket.commit(key, spool, headers.get("content-type") or
                             "application/octet-stream", user_meta,
                             forbid_overwrite=forbid == "true" or if_none_match == "*",
                             extras=extras)
    except OSSError as err:
        spool.discard()
        if err.code == "FileAlreadyExists" and if_none_match == "*":
            raise OSSError(412, "PreconditionFailed", "At least one of the pre-conditions you "
                           "specified did not hold", Condition="If-None-Match") from None
        raise
    except BaseException:
        spool.discard()
        raise
    md5 = base64.b64encode(spool.md5.digest()).decode()
    return Reply(200, {"ETag": meta.etag, "x-oss-hash-crc64ecma": str(meta.crc64),
                       "Content-MD5": md5})


def copy_body(stream: Source, length: int, spool: Spool, sha256: Hash | None,
              chunk: int = CHUNK) -> None:
    """Exactly `length` bytes of the request body into the spool (and the SHA-256)."""
    left = length
    while left > 0:
        data = stream.read(min(chunk, left))
        if not data:
            raise ConnectionError("the client sent less than Content-Length")
        spool.write(data)
        if sha256 is not None:
            sha256.update(data)
        left -= len(data)


def check_sha256(sent: str | None, actual: str) -> None:
    """A SigV4 PUT signs the body's SHA-256 (or says UNSIGNED-PAYLOAD)."""
    if sent and sent != "UNSIGNED-PAYLOAD" and sent != actual:
        raise OSSError(400, "XAmzContentSHA256Mismatch", "The provided "
                       "'x-amz-content-sha256' header does not match what was computed.")


def check_md5(sent: str | None, actual: bytes) -> None:
    """Content-MD5, when sent, must be the base64 of the body's MD5."""
    if sent is None:
        return
    try:
        ok = base64.b64decode(sent, validate=True) == actual
    except binascii.Error:
        ok = False
    if not ok:
        raise OSSError(400, "InvalidDigest", "The Content-MD5 you specified is not valid.")


def list_objects(bucket: Bucket, query: Mapping[str, str]) -> Reply:
    """ListObjects (V1): prefix, marker, max-keys, delimiter, encoding-type=url."""
    prefix, marker = query.get("prefix", ""), query.get("marker", "")
    delimiter = query.get("delimiter", "")
    max_keys = _max_keys(query.get("max-keys", "100"))
    encoding, enc = encoder(query)
    contents: list[ObjectMeta] = []
    prefixes: list[str] = []
    truncated, last = False, ""
    for meta in bucket.snapshot():
        if meta.key <= marker or not meta.key.startswith(prefix):
            continue
        common = _common_prefix(meta.key, prefix, delimiter)
        if common is not None and (common <= marker or (prefixes and prefixes[-1] == common)):
            continue
        if len(contents) + len(prefixes) == max_keys:
            truncated = True
            break
        if common is None:
            contents.append(meta)
        else:
            prefixes.append(common)
        last = common or meta.key
    head = [element("Name", bucket.name), element("Prefix", enc(prefix)),
            element("Marker", enc(marker)), element("MaxKeys", str(max_keys)),
            element("Delimiter", enc(delimiter)),
            element("IsTruncated", "true" if truncated else "false")]
    if truncated:
        head.append(element("NextMarker", enc(last)))
    if encoding:
        head.append(element("EncodingType", encoding))
    body = head + [_contents(m, enc) for m in contents]
    body += ["<CommonPrefixes>" + element("Prefix", enc(p)) + "</CommonPrefixes>"
             for p in prefixes]
    return Reply(200, {"Content-Type": "application/xml"}, document("ListBucketResult", body))


def _max_keys(raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) <= 1000:
        raise invalid_argument("max-keys must be between 1 and 1000.", "max-keys", raw)
    return int(raw)


def _common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    cut = key.find(delimiter, len(prefix))
    return None if cut < 0 else key[: cut + len(delimiter)]


def _contents(meta: ObjectMeta, enc: Encoder) -> str:
    return "<Contents>" + "".join([
        element("Key", enc(meta.key)), element("LastModified", xml_time(meta.mtime)),
        element("ETag", meta.etag), element("Type", meta.object_type),
        element("Size", str(meta.size)), element("StorageClass", "Standard"),
    ]) + "</Contents>"
