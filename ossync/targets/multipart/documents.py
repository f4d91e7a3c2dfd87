"""The XML of the multipart API, which OSS and S3 share (S3 adds a namespace): the
CompleteMultipartUpload body we send, and the answers we read."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote
from xml.sax.saxutils import escape

from ossync.core.limits import MAX_PARTS
from ossync.core.objects import Part

MAX_UPLOAD_PAGES = 1000  # a bucket's open uploads are read at most this many pages deep


@dataclass(frozen=True)
class PendingUpload:
    """An upload the store holds open: what ListMultipartUploads names."""

    key: str
    upload_id: str
    initiated: datetime | None


@dataclass(frozen=True)
class Page:
    """One page of a listing and where the next starts (None: the last page)."""

    parts: list[Part]
    uploads: list[PendingUpload]
    next_marker: tuple[str, str] | None


def complete_body(parts: Sequence[Part]) -> bytes:
    items = "".join(f"<Part><PartNumber>{p.number}</PartNumber><ETag>{escape(p.etag)}</ETag>"
                    "</Part>" for p in parts)
    return f"<CompleteMultipartUpload>{items}</CompleteMultipartUpload>".encode()


def _root(body: bytes) -> ET.Element:
    """The document with namespaces dropped from every tag; ValueError if not XML."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ValueError(f"the store's answer is not XML: {exc}") from None
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]
    return root


def _text(element: ET.Element, tag: str, default: str = "") -> str:
    found = element.find(tag)
    return (found.text or "").strip() if found is not None else default


def _key(element: ET.Element, root: ET.Element) -> str:
    """A key, decoded when the listing says `EncodingType` url."""
    key = _text(element, "Key")
    return unquote(key) if _text(root, "EncodingType").lower() == "url" else key


def error_code(body: bytes) -> str | None:
    """The `<Error><Code>` of an answer, if it is one (S3 may send it with status 200)."""
    try:
        root = _root(body)
    except ValueError:
        return None
    if root.tag != "Error":
        return None
    return _text(root, "Code") or "InternalError"


def upload_id(body: bytes) -> str:
    """InitiateMultipartUploadResult → its UploadId."""
    found = _text(_root(body), "UploadId")
    if not found:
        raise ValueError("the store's answer to InitiateMultipartUpload has no UploadId")
    return found


def completed_etag(body: bytes) -> str | None:
    """CompleteMultipartUploadResult → the object's ETag, if the body carries one."""
    try:
        return _text(_root(body), "ETag") or None
    except ValueError:
        return None


def parts_page(body: bytes) -> Page:
    """ListPartsResult → the parts and the next part-number marker."""
    root = _root(body)
    parts = []
    for item in root.iter("Part"):
        crc = _text(item, "HashCrc64ecma")
        parts.append(Part(int(_text(item, "PartNumber")), int(_text(item, "Size", "0")),
                          _text(item, "ETag"), int(crc) if crc else None))
    truncated = _text(root, "IsTruncated").lower() == "true"
    marker = _text(root, "NextPartNumberMarker")
    return Page(parts, [], (marker, "") if truncated and marker else None)


def uploads_page(body: bytes) -> Page:
    """ListMultipartUploadsResult → the open uploads and the next key/upload-id markers."""
    root = _root(body)
    uploads = [PendingUpload(_key(item, root), _text(item, "UploadId"),
                             _when(_text(item, "Initiated")))
               for item in root.iter("Upload")]
    truncated = _text(root, "IsTruncated").lower() == "true"
    marker = (unquote(_text(root, "NextKeyMarker")) if _text(root, "EncodingType") else
              _text(root, "NextKeyMarker"), _text(root, "NextUploadIdMarker"))
    return Page([], uploads, marker if truncated and any(marker) else None)


def _when(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def all_parts(fetch: Callable[[dict[str, str]], bytes | None]) -> list[Part] | None:
    """Every part of an upload, page by page: `fetch(marker)` answers ListParts for the
    page after `marker` (empty: the first), or None when the upload is gone."""
    parts: list[Part] = []
    marker: dict[str, str] = {}
    for _ in range(MAX_PARTS // 1000 + 1):
        body = fetch(marker)
        if body is None:
            return None
        page = parts_page(body)
        parts += page.parts
        if page.next_marker is None:
            break
        marker = {"part-number-marker": page.next_marker[0]}
    return parts


def all_uploads(fetch: Callable[[dict[str, str]], bytes]) -> list[PendingUpload]:
    """Every open upload, page by page: `fetch(markers)` answers ListMultipartUploads for
    the page after the key and upload-id markers (empty: the first)."""
    found: list[PendingUpload] = []
    marker: dict[str, str] = {}
    for _ in range(MAX_UPLOAD_PAGES):
        page = uploads_page(fetch(marker))
        found += page.uploads
        if page.next_marker is None:
            break
        marker = {"key-marker": page.next_marker[0], "upload-id-marker": page.next_marker[1]}
    return found
