"""A bucket that describes itself: ListObjectsV2 (paged by continuation tokens, with
`prefix`, `delimiter`, `start-after`, `encoding-type=url`), and an object's tags
(GetObjectTagging, PutObjectTagging, DeleteObjectTagging) and ACL (GetObjectAcl), in
OSS's shapes and S3's (S3's answers carry its namespace).

A continuation token is opaque to clients: here the base64 of the last key listed,
refused (`InvalidArgument`) when it is not one this endpoint could have written.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from ossync.localoss.objects import Encoder, encoder, no_such_key
from ossync.localoss.options import checked_tagging
from ossync.localoss.responses import OSSError, Reply, document, element, invalid_argument, xml_time
from ossync.localoss.store import Bucket, ObjectMeta, validate_key

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
V2_PARAMS = frozenset({"list-type", "prefix", "delimiter", "max-keys", "continuation-token",
                       "start-after", "encoding-type", "fetch-owner"})
TOKEN_PREFIX = b"local-oss:"


def _token(key: str) -> str:
    return base64.urlsafe_b64encode(TOKEN_PREFIX + key.encode()).decode()


def _after_token(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
        if not raw.startswith(TOKEN_PREFIX):
            raise ValueError(token)
        return raw[len(TOKEN_PREFIX):].decode()
    except (ValueError, binascii.Error, UnicodeError):
        raise invalid_argument("The continuation token provided is incorrect.",
                               "continuation-token", token[:64]) from None


def list_objects_v2(bucket: Bucket, query: Mapping[str, str], *, s3: bool) -> Reply:
    if query.get("list-type") != "2":
        raise invalid_argument("list-type must be 2.", "list-type", query.get("list-type", ""))
    unknown = sorted(set(query) - V2_PARAMS)
    if unknown:
        raise OSSError(501, "NotImplemented",
                       f"local-oss does not implement the {unknown[0]} parameter here.")
    prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
    raw_max = query.get("max-keys", "1000")
    if not raw_max.isdigit() or not 0 < int(raw_max) <= 1000:
        raise invalid_argument("max-keys must be between 1 and 1000.", "max-keys", raw_max)
    max_keys = int(raw_max)
    token = query.get("continuation-token")
    start_after = query.get("start-after", "")
    after = _after_token(token) if token else start_after
    encoding, enc = encoder(query)
    contents: list[ObjectMeta] = []
    prefixes: list[str] = []
    last, truncated = "", False
    for meta in bucket.after(after, prefix):
        cut = meta.key.find(delimiter, len(prefix)) if delimiter else -1
        common = meta.key[:cut + len(delimiter)] if cut >= 0 else None
        if common is not None and ((prefixes and prefixes[-1] == common) or common <= after):
            continue
        if len(contents) + len(prefixes) == max_keys:
            truncated = True
            break
        if common is None:
            contents.append(meta)
        else:
            prefixes.append(common)
        last = meta.key if common is None else common
    head = [element("Name", bucket.name), element("Prefix", enc(prefix)),
            element("MaxKeys", str(max_keys)), element("Delimiter", enc(delimiter)),
            element("IsTruncated", "true" if truncated else "false"),
            element("KeyCount", str(len(contents) + len(prefixes)))]
    if token:
        head.append(element("ContinuationToken", token))
    if start_after:
        head.append(element("StartAfter", enc(start_after)))
    if truncated:
        head.append(element("NextContinuationToken", _token(last)))
    if encoding:
        head.append(element("EncodingType", encoding))
    body = head + [_contents(m, enc, s3) for m in contents]
    body += ["<CommonPrefixes>" + element("Prefix", enc(p)) + "</CommonPrefixes>"
             for p in prefixes]
    return Reply(200, {"Content-Type": "application/xml"},
                 document("ListBucketResult", body, S3_NS if s3 else ""))


def _contents(meta: ObjectMeta, enc: Encoder, s3: bool) -> str:
    storage = meta.options.storage_class or ("STANDARD" if s3 else "Standard")
    children = [element("Key", enc(meta.key)), element("LastModified", xml_time(meta.mtime)),
                element("ETag", meta.etag), element("Size", str(meta.size)),
                element("StorageClass", storage)]
    if not s3:
        children.insert(3, element("Type", meta.object_type))
    return "<Contents>" + "".join(children) + "</Contents>"


def tagging(bucket: Bucket, key: str, method: str, body: bytes, *, s3: bool) -> Reply:
    """GetObjectTagging, PutObjectTagging or DeleteObjectTagging of one object."""
    validate_key(key)
    if method == "GET":
        meta = bucket.head(key)
        if meta is None:
            raise no_such_key()
        listed = "".join(f"<Tag>{element('Key', k)}{element('Value', v)}</Tag>"
                         for k, v in meta.options.tags.items())
        return Reply(200, {"Content-Type": "application/xml"},
                     document("Tagging", [f"<TagSet>{listed}</TagSet>"], S3_NS if s3 else ""))
    if method not in ("PUT", "DELETE"):
        raise OSSError(405, "MethodNotAllowed", "The specified method is not allowed.")
    tags = checked_tagging(body) if method == "PUT" else {}
    if bucket.set_tags(key, tags) is None:
        raise no_such_key()
    return Reply(200 if method == "PUT" else 204)


def object_acl(bucket: Bucket, key: str) -> Reply:
    """GetObjectAcl (OSS): the object's own ACL, `default` when it has none."""
    validate_key(key)
    meta = bucket.head(key)
    if meta is None:
        raise no_such_key()
    grant = meta.options.acl or "default"
    owner = "<Owner>" + element("ID", "local-oss") + element("DisplayName", "local-oss") + \
        "</Owner>"
    return Reply(200, {"Content-Type": "application/xml"}, document(
        "AccessControlPolicy", [owner, "<AccessControlList>" + element("Grant", grant) +
                                "</AccessControlList>"]))

