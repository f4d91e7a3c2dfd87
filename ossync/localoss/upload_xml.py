"""The XML of the multipart upload API: the CompleteMultipartUpload body read in, and the
four result documents written out, in the shapes alibabacloud_oss_v2, oss2 and botocore
parse. S3's answers carry S3's namespace; keys are URL-encoded under encoding-type=url.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.etree import ElementTree

from ossync.localoss.responses import OSSError, Reply, document, element, xml_time
from ossync.localoss.uploads import PartMeta, Upload

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
_NUMBER = re.compile(r"^[0-9]{1,5}$")
Encoder = Callable[[str], str]


def malformed_xml() -> OSSError:
    return OSSError(400, "MalformedXML", "The XML you provided was not well-formed or did not "
                    "validate against our published schema.")


def result(root: str, children: Sequence[str], *, s3: bool) -> Reply:
    return Reply(200, {"Content-Type": "application/xml"},
                 document(root, children, S3_NS if s3 else ""))


def _local(tag: str) -> str:
    """A tag without its namespace (boto3 sends S3's on CompleteMultipartUpload)."""
    return tag.rpartition("}")[2]


def parse_complete(body: bytes) -> list[tuple[int, str]]:
    """(PartNumber, ETag) of every `<Part>`, in the order sent; at least one."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise malformed_xml() from None
    if _local(root.tag) != "CompleteMultipartUpload":
        raise malformed_xml()
    listed: list[tuple[int, str]] = []
    for part in root:
        if _local(part.tag) != "Part":
            raise malformed_xml()
        fields = {_local(child.tag): (child.text or "").strip() for child in part}
        number, etag = fields.get("PartNumber", ""), fields.get("ETag")
        if not _NUMBER.match(number) or etag is None:
            raise malformed_xml()
        listed.append((int(number), etag))
    if not listed:
        raise malformed_xml()
    return listed


def initiate_result(bucket: str, key: str, upload_id: str, encoding: str, enc: Encoder, *,
                    s3: bool) -> Reply:
    children = [element("Bucket", bucket), element("Key", enc(key)),
                element("UploadId", upload_id)]
    if encoding:
        children.append(element("EncodingType", encoding))
    return result("InitiateMultipartUploadResult", children, s3=s3)


def complete_result(location: str, bucket: str, key: str, etag: str, encoding: str,
                    enc: Encoder, *, s3: bool) -> Reply:
    children = [element("EncodingType", encoding)] if encoding else []
    children += [element("Location", location), element("Bucket", bucket),
                 element("Key", enc(key)), element("ETag", etag)]
    return result("CompleteMultipartUploadResult", children, s3=s3)


@dataclass(frozen=True)
class Page:
    """Where a listing starts, how long it may be, how keys are written."""

    marker: str
    limit: int
    encoding: str
    enc: Encoder


def parts_result(bucket: str, upload: Upload, page: Page, *, s3: bool) -> Reply:
    """ListPartsResult: the parts after `page.marker` (a part number), in order."""
    numbers = sorted(n for n in upload.parts if n > int(page.marker))
    shown = numbers[: page.limit]
    children = [element("Bucket", bucket), element("Key", page.enc(upload.key)),
                element("UploadId", upload.upload_id),
                element("PartNumberMarker", page.marker),
                element("NextPartNumberMarker", str(shown[-1]) if shown else page.marker),
                element("MaxParts", str(page.limit)),
                element("IsTruncated", _bool(len(numbers) > page.limit))]
    if page.encoding:
        children.append(element("EncodingType", page.encoding))
    children += [_part(upload.parts[n], s3=s3) for n in shown]
    return result("ListPartsResult", children, s3=s3)


def _part(part: PartMeta, *, s3: bool) -> str:
    crc = "" if s3 else element("HashCrc64ecma", str(part.crc64))
    return ("<Part>" + element("PartNumber", str(part.number))
            + element("LastModified", xml_time(part.mtime)) + element("ETag", part.etag)
            + crc + element("Size", str(part.size)) + "</Part>")


def uploads_result(bucket: str, uploads: Sequence[Upload], prefix: str, upload_id_marker: str,
                   page: Page, *, s3: bool) -> Reply:
    """ListMultipartUploadsResult: `uploads` (already filtered and sorted) from the
    position after (`page.marker`, `upload_id_marker`)."""
    shown = list(uploads[: page.limit])
    last_key, last_id = (shown[-1].key, shown[-1].upload_id) if shown else ("", "")
    enc = page.enc
    children = [element("Bucket", bucket), element("KeyMarker", enc(page.marker)),
                element("UploadIdMarker", upload_id_marker),
                element("NextKeyMarker", enc(last_key)),
                element("NextUploadIdMarker", last_id), element("Prefix", enc(prefix)),
                element("MaxUploads", str(page.limit)),
                element("IsTruncated", _bool(len(uploads) > page.limit))]
    if page.encoding:
        children.append(element("EncodingType", page.encoding))
    children += ["<Upload>" + element("Key", enc(u.key)) + element("UploadId", u.upload_id)
                 + element("Initiated", xml_time(u.initiated)) + "</Upload>" for u in shown]
    return result("ListMultipartUploadsResult", children, s3=s3)


def _bool(value: bool) -> str:
    return "true" if value else "false"
