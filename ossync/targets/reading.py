"""Reading a bucket back, as OSS and S3 both answer it: ListObjectsV2 pages, a HEAD's
headers as an `ObjectInfo` (user metadata, storage class, encryption, tags), and the
`<Tagging>` document of GetObjectTagging.

Listings are asked for with `encoding-type=url`, so a key with characters XML cannot
carry comes back percent-encoded and is decoded here.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

from ossync.core.objects import Listed, ListPage, ObjectInfo

MAX_KEYS = 1000
KEPT_HEADERS = ("cache-control", "content-disposition", "content-encoding", "expires")


def list_query(prefix: str, token: str | None) -> dict[str, str]:
    """The query of one ListObjectsV2 request (values unencoded)."""
    query = {"list-type": "2", "prefix": prefix, "max-keys": str(MAX_KEYS),
             "encoding-type": "url"}
    if token:
        query["continuation-token"] = token
    return query


def _local(tag: str) -> str:
    """A tag without S3's namespace."""
    return tag.rpartition("}")[2]


def _children(node: ET.Element) -> dict[str, str]:
    return {_local(child.tag): (child.text or "") for child in node}


def parse_list_v2(body: bytes) -> ListPage:
    """A `ListBucketResult` of ListObjectsV2 (keys url-decoded when it says so);
    ValueError when the body is not one."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ValueError(f"the listing is not XML: {exc}") from None
    if _local(root.tag) != "ListBucketResult":
        raise ValueError(f"the listing is a {_local(root.tag)}, not a ListBucketResult")
    top = _children(root)
    decode = unquote if top.get("EncodingType") == "url" else (lambda text: text)
    objects = []
    for node in root:
        if _local(node.tag) != "Contents":
            continue
        item = _children(node)
        objects.append(Listed(key=decode(item.get("Key", "")), size=int(item.get("Size", "0")),
                              etag=item.get("ETag"), last_modified=item.get("LastModified"),
                              storage_class=item.get("StorageClass")))
    truncated = top.get("IsTruncated", "false").lower() == "true"
    token = top.get("NextContinuationToken") or None
    if truncated and token is None:
        raise ValueError("the listing is truncated but gives no continuation token")
    return ListPage(tuple(objects), token if truncated else None)


def parse_tagging(body: bytes) -> dict[str, str]:
    """The tags of a `<Tagging><TagSet><Tag><Key/><Value/></Tag>…` document."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ValueError(f"the tagging answer is not XML: {exc}") from None
    tags: dict[str, str] = {}
    for node in root.iter():
        if _local(node.tag) == "Tag":
            item = _children(node)
            tags[item.get("Key", "")] = item.get("Value", "")
    return tags


def rfc3339(http_date: str | None) -> str | None:
    """`Last-Modified` as the ledger writes times (RFC 3339 UTC with milliseconds)."""
    if not http_date:
        return None
    try:
        moment = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def info_from_headers(key: str, headers: Mapping[str, str], dialect: str) -> ObjectInfo:
    """A HEAD answer's headers (`dialect`: `oss` or `amz`) as an ObjectInfo."""
    lower = {k.lower(): v for k, v in headers.items()}
    meta_prefix = f"x-{dialect}-meta-"
    crc = lower.get("x-oss-hash-crc64ecma")
    tags = lower.get(f"x-{dialect}-tagging-count")
    return ObjectInfo(
        key=key, size=int(lower.get("content-length", "0")), etag=lower.get("etag"),
        crc64=int(crc) if crc else None, content_type=lower.get("content-type"),
        metadata={k[len(meta_prefix):]: v for k, v in lower.items()
                  if k.startswith(meta_prefix)},
        storage_class=lower.get(f"x-{dialect}-storage-class"),
        encryption=lower.get(f"x-{dialect}-server-side-encryption"),
        tag_count=int(tags) if tags and tags.isdigit() else None,
        last_modified=rfc3339(lower.get("last-modified")),
        headers={k: v for k, v in lower.items() if k in KEPT_HEADERS})
